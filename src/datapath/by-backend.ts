// Values keyed by a backend's address and port, without a key string per backend: one map per
// port, keyed by the address string the backend already holds. The reconciler keeps an id for
// every backend in the cluster; "address|port" keys cost ~40 bytes each, ~4 MB of live heap
// at 100,000 backends, and a full sync built one more per lookup.
import type { Backend } from '../model/desired-services.js';

export class ByBackend<V> {
  private readonly byPort = new Map<number, Map<string, V>>();

  get(b: Backend): V | undefined {
    return this.byPort.get(b.port)?.get(b.address);
  }

  has(b: Backend): boolean {
    return this.byPort.get(b.port)?.has(b.address) ?? false;
  }

  set(b: Backend, value: V): void {
    let addresses = this.byPort.get(b.port);
    if (!addresses) this.byPort.set(b.port, (addresses = new Map()));
    addresses.set(b.address, value);
  }

  delete(b: Backend): boolean {
    const addresses = this.byPort.get(b.port);
    if (!addresses?.delete(b.address)) return false;
    if (addresses.size === 0) this.byPort.delete(b.port);
    return true;
  }

  *values(): IterableIterator<V> {
    for (const addresses of this.byPort.values()) yield* addresses.values();
  }
}
