// The service addresses of slb_vips (vips_map.h), kept equal to the addresses that have at
// least one live frontend, in an order that keeps every lookup valid:
//   - an address is written before the first frontend on it goes live: the programs look the
//     address up first, and a frontend whose address is missing is not reached at all;
//   - it is deleted only after the last frontend on it has left the frontends map, so a port
//     of a service is never taken for an address that is no service.
// The reconciler calls ensure() before its frontend writes, live() and gone() as frontends
// enter and leave the frontends map, and settle() once a sync's frontend writes are done.
import type { KeyValueMap } from '../bpf/typed-map.js';
import { deleteAll, writeAll } from './batched-writes.js';
import { PLAIN_VIP, type VipKey, type VipValue } from './vips-map.js';

export class VipAddresses {
  /** Every address in the map, with how many live frontends it has; 0 until one goes live or
   * after the last one left (then settle() deletes it). */
  private readonly frontends = new Map<string, number>();
  /** Addresses that may have no live frontend: the only ones settle() looks at. */
  private readonly idle = new Set<string>();

  constructor(private readonly map: KeyValueMap<VipKey, VipValue>) {}

  /** Addresses in the map. */
  get size(): number {
    return this.frontends.size;
  }

  /** Whether some address may have to leave the map (its delete failed, or settle() has not run). */
  get pending(): boolean {
    return this.idle.size > 0;
  }

  /** Starts from the frontends found in the maps (one address per frontend) and makes the map
   * hold exactly their addresses: an earlier agent may have stopped between the steps above,
   * or predate the map. Throws if the map cannot be written, as adoption does. */
  adopt(frontendAddresses: Iterable<string>): void {
    for (const address of frontendAddresses) this.frontends.set(address, (this.frontends.get(address) ?? 0) + 1);
    const present = new Set<string>();
    const stale: VipKey[] = [];
    for (const [key] of this.map.entries()) {
      if (this.frontends.has(key.words)) present.add(key.words);
      else stale.push(key);
    }
    const missing = [...this.frontends.keys()].filter((address) => !present.has(address));
    const written = this.map.setMany(missing.map((words) => [{ words }, PLAIN_VIP] as const));
    if (written.error) throw written.error;
    const deleted = this.map.deleteMany(stale);
    if (deleted.error) throw deleted.error;
  }

  /** Writes the addresses of frontends about to go live that the map lacks. A frontend whose
   * address could not be written must stay out of the frontends map: onError gets its tag. */
  ensure<T>(frontends: readonly { address: string; tag: T }[], onError: (tag: T, err: Error) => void): number {
    const tagsByMissing = new Map<string, T[]>();
    for (const { address, tag } of frontends) {
      if (this.frontends.has(address)) continue;
      const tags = tagsByMissing.get(address);
      if (tags) tags.push(tag);
      else tagsByMissing.set(address, [tag]);
    }
    const failed = new Set<string>();
    const operations = writeAll(
      this.map,
      [...tagsByMissing.keys()].map((words) => ({ key: { words }, value: PLAIN_VIP, tag: words })),
      (address, err) => {
        failed.add(address);
        for (const tag of tagsByMissing.get(address)!) onError(tag, err);
      },
    );
    for (const address of tagsByMissing.keys()) {
      if (failed.has(address)) continue;
      this.frontends.set(address, 0);
      this.idle.add(address); // deleted again unless a frontend on it goes live
    }
    return operations;
  }

  /** A frontend on the address entered the frontends map. */
  live(address: string): void {
    this.frontends.set(address, (this.frontends.get(address) ?? 0) + 1);
  }

  /** A frontend on the address left the frontends map. */
  gone(address: string): void {
    const left = (this.frontends.get(address) ?? 1) - 1;
    this.frontends.set(address, left);
    if (left <= 0) this.idle.add(address);
  }

  /** Deletes the addresses without a live frontend; call after the frontends map's deletes. An
   * address whose delete fails is tried again at the next settle(); onError names it. */
  settle(onError: (address: string, err: Error) => void): number {
    const unused = [...this.idle].filter((address) => (this.frontends.get(address) ?? 0) <= 0);
    this.idle.clear();
    const operations = deleteAll(
      this.map,
      unused.map((words) => ({ key: { words }, tag: words })),
      (address, err) => {
        this.idle.add(address);
        onError(address, err);
      },
    );
    for (const address of unused) if (!this.idle.has(address)) this.frontends.delete(address);
    return operations;
  }
}
