// Makes the BPF maps equal to the desired services with the fewest writes, in an order that
// keeps every lookup valid while it runs:
//   1. new backends are written before any slot refers to them;
//   2. a changed service's new backend list goes into its spare slot generation, which no
//      lookup reads, and only then does one frontend update switch lookups over to it;
//   3. removed services disappear from the frontends map before their slots go;
//   4. backends are deleted last, once no live list refers to them.
// For services with session affinity, a (service, backend) membership pair is added before
// the backend's slot goes live and removed after it is gone, so a remembered backend is reused
// only while it belongs to the service.
// So a new connection never goes to a removed backend and never fails while the service has
// one. Failures are per service: a failed service keeps its previous state, the rest apply.
import { backendId as backendAddrId, frontendId, type Backend, type DesiredService } from './desired-state.js';
import type { DatapathMaps } from './datapath-maps.js';
import { IPPROTO_TCP, IPPROTO_UDP, MAX_BACKENDS_PER_FRONTEND, type FrontendKey } from './frontends-map.js';
import { readSnapshot } from './map-snapshot.js';

interface FrontendState {
  key: FrontendKey;
  serviceId: number;
  generation: number;
  /** Backend ids the live generation holds; undefined marks a slot found missing on adoption. */
  active: (number | undefined)[];
  /** What the spare generation's slots hold, so the next update rewrites only what differs. */
  spare: (number | undefined)[];
  /** Seconds of session affinity; 0: none. */
  affinityTimeout: number;
}

interface BackendState {
  id: number;
  backend: Backend;
  /** How many live slots refer to it. */
  refs: number;
}

export interface ServiceError {
  owner: string;
  frontend: string;
  message: string;
}

export interface ReconcileReport {
  frontendsAdded: number;
  frontendsUpdated: number;
  frontendsRemoved: number;
  backendsAdded: number;
  backendsRemoved: number;
  /** Map writes and deletes issued: the cost of the sync. */
  mapOperations: number;
  errors: ServiceError[];
}

const MAX_ID = 0xffffffff;

const protocolNumber = { TCP: IPPROTO_TCP, UDP: IPPROTO_UDP } as const;

function frontendKeyOf(s: DesiredService): FrontendKey {
  return { address: s.frontend.address, port: s.frontend.port, protocol: protocolNumber[s.frontend.protocol] };
}

function keyId(k: FrontendKey): string {
  return frontendId({ address: k.address, port: k.port, protocol: k.protocol === IPPROTO_UDP ? 'UDP' : 'TCP' });
}

function sameMembers(a: readonly (number | undefined)[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

export class Reconciler {
  private readonly frontends = new Map<string, FrontendState>();
  private readonly backendsById = new Map<number, BackendState>();
  private readonly backendIdByAddr = new Map<string, number>();
  private nextServiceId = 1;
  private nextBackendId = 1;

  private constructor(private readonly maps: DatapathMaps) {}

  /** Starts from what the maps already hold (pinned by an earlier agent), never from empty. */
  static adopt(maps: DatapathMaps): Reconciler {
    const r = new Reconciler(maps);
    const snap = readSnapshot(maps);
    for (const [id, value] of snap.backends) {
      const backend = { address: value.address, port: value.port };
      r.backendsById.set(id, { id, backend, refs: 0 });
      if (!r.backendIdByAddr.has(backendAddrId(backend))) r.backendIdByAddr.set(backendAddrId(backend), id);
      r.nextBackendId = Math.max(r.nextBackendId, id + 1);
    }
    for (const f of snap.frontends) {
      r.frontends.set(keyId(f.key), {
        key: f.key,
        serviceId: f.value.service_id,
        generation: f.value.generation & 1,
        active: f.active,
        spare: f.spare,
        affinityTimeout: f.value.affinity_timeout,
      });
      r.nextServiceId = Math.max(r.nextServiceId, f.value.service_id + 1);
      for (const id of f.active) if (id !== undefined) r.ref(id, +1);
    }
    // Slots no frontend points to are debris of an interrupted run; nothing can read them.
    for (const key of snap.orphanSlots) maps.slots.delete(key);
    r.repairAffinityMembers();
    return r;
  }

  /** Makes the membership map hold exactly the live backends of services with affinity. */
  private repairAffinityMembers(): void {
    const want = new Set<string>();
    for (const f of this.frontends.values()) if (f.affinityTimeout > 0) for (const b of f.active) if (b !== undefined) want.add(`${f.serviceId}|${b}`);
    for (const [key] of this.maps.affinityMatch.entries()) {
      if (!want.delete(`${key.service_id}|${key.backend_id}`)) this.maps.affinityMatch.delete(key);
    }
    for (const pair of want) {
      const [service_id, backend_id] = pair.split('|').map(Number) as [number, number];
      this.maps.affinityMatch.set({ service_id, backend_id }, { present: 1 });
    }
  }

  /** Entries the agent holds in each map it writes, for logs and metrics. */
  get size(): { frontends: number; backends: number; slots: number } {
    let slots = 0;
    for (const f of this.frontends.values()) slots += f.active.length + f.spare.length;
    return { frontends: this.frontends.size, backends: this.backendsById.size, slots };
  }

  /** Makes the maps hold exactly `desired`: a full resync (startup, a whole file). */
  apply(desired: readonly DesiredService[]): ReconcileReport {
    const wanted = new Map<string, DesiredService>();
    for (const s of desired) wanted.set(frontendId(s.frontend), s);
    const removals = [...this.frontends.keys()].filter((id) => !wanted.has(id));
    return this.applyChanges({ upserts: [...wanted.values()], removals });
  }

  /** Applies a delta: upserted frontends are written if they differ, removed ones deleted. */
  applyChanges(changes: { upserts: readonly DesiredService[]; removals: readonly string[] }): ReconcileReport {
    const report: ReconcileReport = {
      frontendsAdded: 0,
      frontendsUpdated: 0,
      frontendsRemoved: 0,
      backendsAdded: 0,
      backendsRemoved: 0,
      mapOperations: 0,
      errors: [],
    };
    for (const service of changes.upserts) {
      const id = frontendId(service.frontend);
      try {
        this.applyService(id, service, report);
      } catch (err) {
        report.errors.push({ owner: service.owner, frontend: id, message: (err as Error).message });
      }
    }
    for (const id of changes.removals) {
      const state = this.frontends.get(id);
      if (!state) continue;
      try {
        this.removeFrontend(id, state, report);
      } catch (err) {
        report.errors.push({ owner: '(removed service)', frontend: id, message: (err as Error).message });
      }
    }
    this.collectBackends(report);
    return report;
  }

  private applyService(id: string, service: DesiredService, report: ReconcileReport): void {
    if (service.backends.length > MAX_BACKENDS_PER_FRONTEND) {
      throw new Error(`has ${service.backends.length} endpoints; socklb supports at most ${MAX_BACKENDS_PER_FRONTEND} per service port`);
    }
    const current = this.frontends.get(id);
    const ids = service.backends.map((b) => this.backendFor(b, report));
    const affinityTimeout = service.affinityTimeoutSeconds ?? 0;
    if (current && current.affinityTimeout === affinityTimeout && sameMembers(current.active, ids)) return;
    const oldMembers = current && current.affinityTimeout > 0 ? current.active.filter((b): b is number => b !== undefined) : [];
    const newMembers = affinityTimeout > 0 ? ids : [];

    const key = current?.key ?? frontendKeyOf(service);
    const serviceId = current?.serviceId ?? this.allocServiceId();
    const generation = current ? current.generation ^ 1 : 0;
    const half = current ? [...current.spare] : [];
    const state: FrontendState = current ?? { key, serviceId, generation: 0, active: [], spare: [], affinityTimeout: 0 };
    if (!current) this.frontends.set(id, state);
    try {
      ids.forEach((backendId, slot) => {
        if (half[slot] === backendId) return;
        this.maps.slots.set({ service_id: serviceId, slot, generation }, { backend_id: backendId });
        half[slot] = backendId;
        report.mapOperations++;
      });
      for (let slot = half.length - 1; slot >= ids.length; slot--) {
        this.maps.slots.delete({ service_id: serviceId, slot, generation });
        half.length = slot;
        report.mapOperations++;
      }
      for (const b of newMembers.filter((x) => !oldMembers.includes(x))) {
        this.maps.affinityMatch.set({ service_id: serviceId, backend_id: b }, { present: 1 });
        report.mapOperations++;
      }
      // The switch: one update replaces count, generation and affinity together.
      this.maps.frontends.set(key, { service_id: serviceId, backend_count: ids.length, generation, flags: 0, affinity_timeout: affinityTimeout });
      report.mapOperations++;
    } catch (err) {
      // Lookups still use the old generation; remember what the spare half holds now.
      state.spare = half;
      if (!current) this.frontends.delete(id);
      throw err;
    }
    for (const b of ids) this.ref(b, +1);
    for (const b of state.active) if (b !== undefined) this.ref(b, -1);
    state.spare = state.active;
    state.active = ids;
    state.generation = generation;
    state.affinityTimeout = affinityTimeout;
    if (current) report.frontendsUpdated++;
    else report.frontendsAdded++;
    this.deleteAffinityMembers(
      serviceId,
      oldMembers.filter((x) => !newMembers.includes(x)),
      report,
    );
  }

  private deleteAffinityMembers(serviceId: number, backendIds: readonly number[], report: ReconcileReport): void {
    for (const b of backendIds) {
      this.maps.affinityMatch.delete({ service_id: serviceId, backend_id: b });
      report.mapOperations++;
    }
  }

  private removeFrontend(id: string, state: FrontendState, report: ReconcileReport): void {
    this.maps.frontends.delete(state.key);
    report.mapOperations++;
    this.frontends.delete(id);
    for (const b of state.active) if (b !== undefined) this.ref(b, -1);
    report.frontendsRemoved++;
    const generations: [number, (number | undefined)[]][] = [
      [state.generation, state.active],
      [state.generation ^ 1, state.spare],
    ];
    for (const [generation, slots] of generations) {
      slots.forEach((_, slot) => {
        this.maps.slots.delete({ service_id: state.serviceId, slot, generation });
        report.mapOperations++;
      });
    }
    if (state.affinityTimeout > 0)
      this.deleteAffinityMembers(
        state.serviceId,
        state.active.filter((b): b is number => b !== undefined),
        report,
      );
  }

  private backendFor(backend: Backend, report: ReconcileReport): number {
    const known = this.backendIdByAddr.get(backendAddrId(backend));
    if (known !== undefined) return known;
    const id = this.nextBackendId;
    if (id > MAX_ID) throw new Error('backend ids are exhausted; restart the agent after `socklb uninstall`');
    this.maps.backends.set({ backend_id: id }, { address: backend.address, port: backend.port });
    this.nextBackendId++;
    this.backendsById.set(id, { id, backend, refs: 0 });
    this.backendIdByAddr.set(backendAddrId(backend), id);
    report.backendsAdded++;
    report.mapOperations++;
    return id;
  }

  private allocServiceId(): number {
    if (this.nextServiceId > MAX_ID) throw new Error('service ids are exhausted; restart the agent after `socklb uninstall`');
    return this.nextServiceId++;
  }

  private ref(id: number, delta: number): void {
    const b = this.backendsById.get(id);
    if (b) b.refs += delta;
  }

  private collectBackends(report: ReconcileReport): void {
    for (const [id, b] of this.backendsById) {
      if (b.refs > 0) continue;
      try {
        this.maps.backends.delete({ backend_id: id });
        report.mapOperations++;
      } catch (err) {
        report.errors.push({ owner: '(backend)', frontend: backendAddrId(b.backend), message: (err as Error).message });
        continue;
      }
      this.backendsById.delete(id);
      if (this.backendIdByAddr.get(backendAddrId(b.backend)) === id) this.backendIdByAddr.delete(backendAddrId(b.backend));
      report.backendsRemoved++;
    }
  }
}
