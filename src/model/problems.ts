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

/** Current problems by object, kept small (objects without problems take no entry) and
 * flattened only when something changed: every sync asks, few syncs change it. */
export class ProblemBook {
  private readonly byKey = new Map<string, Problem[]>();
  private flat: Problem[] | undefined = [];

  set(key: string, problems: Problem[]): void {
    const had = this.byKey.has(key);
    if (problems.length > 0) this.byKey.set(key, problems);
    else this.byKey.delete(key);
    if (had || problems.length > 0) this.flat = undefined;
  }

  delete(key: string): void {
    if (this.byKey.delete(key)) this.flat = undefined;
  }

  /** The same array until a problem changes, so callers can compare by identity. */
  all(): Problem[] {
    this.flat ??= [...this.byKey.values()].flat();
    return this.flat;
  }
}
