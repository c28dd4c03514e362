// How many holders (endpoint slices, pods, nodes, the agent's own interfaces) name each
// address, with a callback when an address starts or stops being held, so the services whose
// cluster IP it is can be looked at again. Pure.
export class AddressRefs {
  private readonly counts = new Map<string, number>();

  constructor(private readonly onTransition: (address: string) => void) {}

  add(addresses: readonly string[]): void {
    for (const a of addresses) {
      const n = this.counts.get(a) ?? 0;
      this.counts.set(a, n + 1);
      if (n === 0) this.onTransition(a);
    }
  }

  remove(addresses: readonly string[]): void {
    for (const a of addresses) {
      const n = this.counts.get(a);
      if (n === undefined) continue;
      if (n > 1) this.counts.set(a, n - 1);
      else {
        this.counts.delete(a);
        this.onTransition(a);
      }
    }
  }

  has(address: string): boolean {
    return this.counts.has(address);
  }
}
