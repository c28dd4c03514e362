// A problem with one object: which object, which field, what is wrong and what to do. The
// model reports problems and skips what they affect; it never throws on bad input.
export interface Problem {
  /** "Service default/web" or "EndpointSlice default/web-abc12". */
  object: string;
  /** Path to the field, e.g. "spec.ports[1].protocol". */
  field: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.object}: ${p.field}: ${p.message}`;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  return JSON.stringify(v) ?? String(v);
}

/** Collects problems for one object so callers need not repeat its name. */
export class ProblemSink {
  constructor(
    private readonly out: Problem[],
    readonly object: string,
  ) {}

  add(field: string, message: string): void {
    this.out.push({ object: this.object, field, message });
  }
}
