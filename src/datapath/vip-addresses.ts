// The service addresses of slb_vips (vips_map.h), kept equal to the addresses that have at
// least one live frontend, in an order that keeps every lookup valid:
//   - an address is written before the first frontend on it goes live: the programs look the
//     address up first, and a frontend whose address is missing is not reached at all;
//   - it is deleted only after the last frontend on it has left the frontends map, so a port
//     of a service is never taken for an address that is no service.
// Each address also says what happens to its other ports: refused while a cluster IP frontend
// is on it (the address is the services'), passed while all its frontends are north-south
// (reach 'external': a node's address with NodePorts, an externalIP), whose other ports belong
// to whatever holds the address. A new address is written with the flags its first frontends
// give it, so a node's address never refuses its other ports, not even for a moment.
// The reconciler calls ensure() before its frontend writes, live() and gone() as frontends
// enter and leave the frontends map, and settle() once a sync's frontend writes are done.
import type { KeyValueMap } from '../bpf/typed-map.js';
import { deleteAll, writeAll } from './batched-writes.js';
import { VIP_FLAGS, type VipKey, type VipValue } from './vips-map.js';

/** A frontend as the address table sees it. */
export interface VipFrontend {
  address: string;
  /** reach 'external': the address's other ports pass. */
  external: boolean;
}

interface AddressState {
  /** Live frontends that are cluster IPs, and north-south ones. */
  cluster: number;
  external: number;
  /** The flags in the map. */
  flags: number;
}

/** An address with a cluster IP frontend refuses its other ports; one with only north-south ones passes them. */
const flagsOf = (hasCluster: boolean): number => (hasCluster ? 0 : VIP_FLAGS.otherPortsPass);
const flagsOfState = (s: AddressState): number => flagsOf(s.cluster > 0);

export class VipAddresses {
  /** Every address in the map; with no live frontend until one goes live or after the last one
   * left (then settle() deletes it). */
  private readonly addresses = new Map<string, AddressState>();
  /** Addresses that may have no live frontend, or other flags than the map holds: the only
   * ones settle() looks at. */
  private readonly touched = new Set<string>();

  constructor(private readonly map: KeyValueMap<VipKey, VipValue>) {}

  /** Addresses in the map. */
  get size(): number {
    return this.addresses.size;
  }

  /** Whether some address may have to leave the map or change its flags (a write failed, or settle() has not run). */
  get pending(): boolean {
    return this.touched.size > 0;
  }

  /** Starts from the frontends found in the maps and makes the map hold exactly their
   * addresses, with their flags: an earlier agent may have stopped between the steps above,
   * or predate the map or its flags. Throws if the map cannot be written, as adoption does. */
  adopt(frontends: Iterable<VipFrontend>): void {
    for (const f of frontends) this.count(f, +1);
    const stale: VipKey[] = [];
    const right = new Set<string>();
    for (const [key, value] of this.map.entries()) {
      const state = this.addresses.get(key.words);
      if (!state) stale.push(key);
      else if (value.flags === flagsOfState(state)) right.add(key.words);
    }
    const rewrite = [...this.addresses].filter(([address]) => !right.has(address));
    const written = this.map.setMany(rewrite.map(([words, s]) => [{ words }, { flags: flagsOfState(s) }] as const));
    if (written.error) throw written.error;
    const deleted = this.map.deleteMany(stale);
    if (deleted.error) throw deleted.error;
    // The map holds every address with its flags now: nothing for settle() to do.
    for (const state of this.addresses.values()) state.flags = flagsOfState(state);
    this.touched.clear();
  }

  /** Writes the addresses of frontends about to go live that the map lacks. A frontend whose
   * address could not be written must stay out of the frontends map: onError gets its tag. */
  ensure<T>(frontends: readonly (VipFrontend & { tag: T })[], onError: (tag: T, err: Error) => void): number {
    const missing = new Map<string, { tags: T[]; cluster: boolean }>();
    for (const { address, external, tag } of frontends) {
      if (this.addresses.has(address)) continue;
      const m = missing.get(address);
      if (m) {
        m.tags.push(tag);
        m.cluster ||= !external;
      } else missing.set(address, { tags: [tag], cluster: !external });
    }
    const failed = new Set<string>();
    const operations = writeAll(
      this.map,
      [...missing].map(([words, m]) => ({ key: { words }, value: { flags: flagsOf(m.cluster) }, tag: words })),
      (address, err) => {
        failed.add(address);
        for (const tag of missing.get(address)!.tags) onError(tag, err);
      },
    );
    for (const [address, m] of missing) {
      if (failed.has(address)) continue;
      this.addresses.set(address, { cluster: 0, external: 0, flags: flagsOf(m.cluster) });
      this.touched.add(address); // deleted again unless a frontend on it goes live
    }
    return operations;
  }

  /** A frontend on the address entered the frontends map. */
  live(f: VipFrontend): void {
    this.count(f, +1);
  }

  /** A frontend on the address left the frontends map. */
  gone(f: VipFrontend): void {
    this.count(f, -1);
  }

  private count(f: VipFrontend, delta: number): void {
    let s = this.addresses.get(f.address);
    if (!s) this.addresses.set(f.address, (s = { cluster: 0, external: 0, flags: -1 }));
    if (f.external) s.external = Math.max(0, s.external + delta);
    else s.cluster = Math.max(0, s.cluster + delta);
    this.touched.add(f.address);
  }

  /** Deletes the addresses without a live frontend and rewrites the flags that changed; call
   * after the frontends map's writes and deletes. An address whose write or delete fails is
   * tried again at the next settle(); onError names it. */
  settle(onError: (address: string, err: Error) => void): number {
    const unused: string[] = [];
    const reflag: string[] = [];
    for (const address of this.touched) {
      const s = this.addresses.get(address)!;
      if (s.cluster + s.external <= 0) unused.push(address);
      else if (s.flags !== flagsOfState(s)) reflag.push(address);
    }
    this.touched.clear();
    const retry = (address: string, err: Error): void => {
      this.touched.add(address);
      onError(address, err);
    };
    let operations = writeAll(
      this.map,
      reflag.map((words) => ({ key: { words }, value: { flags: flagsOfState(this.addresses.get(words)!) }, tag: words })),
      retry,
    );
    for (const address of reflag) {
      const s = this.addresses.get(address)!;
      if (!this.touched.has(address)) s.flags = flagsOfState(s);
    }
    operations += deleteAll(
      this.map,
      unused.map((words) => ({ key: { words }, tag: words })),
      retry,
    );
    for (const address of unused) if (!this.touched.has(address)) this.addresses.delete(address);
    return operations;
  }
}
