// Numeric ids for string keys that stay the same across recomputes: a key keeps its id as long as
// it stays in use, so one pod or policy changing rewrites only the entries that name what
// changed. A released id is not handed out again until the range wraps, so an entry the
// datapath still holds for a gone key is never read as a new key's. Pure (state is the object's).
export class IdentityAllocator {
  private readonly ids = new Map<string, number>();
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    private readonly first: number,
    private readonly limit: number,
  ) {
    this.next = first;
  }

  /** Makes `keys` the keys in use: known ones keep their ids, others are released, new ones
   * get fresh ids (in key order, so the result does not depend on the order keys come in). */
  assign(keys: Iterable<string>): ReadonlyMap<string, number> {
    const wanted = new Set(keys);
    for (const [key, id] of this.ids) {
      if (!wanted.has(key)) {
        this.ids.delete(key);
        this.used.delete(id);
      }
    }
    for (const key of [...wanted].filter((k) => !this.ids.has(k)).sort()) this.ids.set(key, this.allocate(key));
    return this.ids;
  }

  private allocate(key: string): number {
    const span = this.limit - this.first;
    if (this.used.size >= span) throw new Error(`no free id for "${key}": all ${span} ids from ${this.first} are in use`);
    while (this.used.has(this.next)) this.next = this.next + 1 >= this.limit ? this.first : this.next + 1;
    const id = this.next;
    this.used.add(id);
    this.next = id + 1 >= this.limit ? this.first : id + 1;
    return id;
  }
}
