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

/** How much of a value a message quotes. A YAML alias bomb of a few hundred bytes expands to
 * megabytes of JSON; a message must stay one readable line whatever the input. */
export const QUOTE_LIMIT = 200;

class QuoteFull extends Error {}

/** JSON text of v, cut at limit characters (with "…"); it never builds more than that. */
export function describeValue(v: unknown, limit = QUOTE_LIMIT): string {
  if (v === undefined) return 'missing';
  let out = '';
  const put = (text: string): void => {
    out += text;
    if (out.length > limit) throw new QuoteFull();
  };
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      put('[');
      x.forEach((item, i) => {
        if (i > 0) put(',');
        walk(item === undefined ? null : item);
      });
      put(']');
    } else if (typeof x === 'object' && x !== null) {
      put('{');
      let first = true;
      for (const [k, item] of Object.entries(x)) {
        if (item === undefined) continue;
        put(`${first ? '' : ','}${JSON.stringify(k)}:`);
        first = false;
        walk(item);
      }
      put('}');
    } else put(JSON.stringify(x) ?? String(x));
  };
  try {
    walk(v);
    return out;
  } catch (err) {
    if (!(err instanceof QuoteFull)) throw err;
    return `${out.slice(0, limit)}…`;
  }
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
