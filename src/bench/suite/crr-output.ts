// The JSON line a crr client prints (src/bench/tools/crr.c), and the measures every client run
// takes from it, in the units the suite reports.
export interface CrrOutput {
  connections: number;
  errors: number;
  elapsed_ns: number;
  p50_ns: number;
  p99_ns: number;
  /** Answers by the answering server's ID. */
  replies: Record<string, number>;
}

export interface CrrMeasures {
  transactions: number;
  errors: number;
  /** Transactions per second. */
  rate: number;
  p50Us: number;
  p99Us: number;
}

export function crrMeasures(out: CrrOutput): CrrMeasures {
  return {
    transactions: out.connections,
    errors: out.errors,
    rate: out.connections / (out.elapsed_ns / 1e9),
    p50Us: out.p50_ns / 1000,
    p99Us: out.p99_ns / 1000,
  };
}
