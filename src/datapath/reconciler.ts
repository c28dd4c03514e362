// Makes the BPF maps equal to the desired services with the fewest writes, in an order that
// keeps every lookup valid while it runs:
//   1. removed services disappear from the frontends map first, then their slots, then the
//      backends no live list and no list about to be written refers to: they are other
//      frontends, so no lookup of a kept one reads them, and a replacement near a map's
//      capacity has room before it writes;
//   2. new backends are written before any slot refers to them;
//   3. a changed service's new backend list goes into its spare slot generation, which no
//      lookup reads, and only then does one frontend update switch lookups over to it;
//   4. backends that left a switched list are deleted last, once no live list refers to them.
// For services with session affinity, a (service, backend) membership pair is added before
// the backend's slot goes live and removed after it is gone, so a remembered backend is reused
// only while it belongs to the service. A frontend's address is in the VIP map before the
// frontend goes live and leaves it after the address's last frontend (vip-addresses.ts).
// So a new connection never goes to a removed backend and never fails while the service has
// one. Sockets that picked a backend earlier are not the maps' business, except connected UDP
// sockets, which would keep a backend for good: the report lists the (VIP, backend) pairs UDP
// frontends lost, so the caller can destroy the sockets connected through them. Each rule
// holds across the whole sync, so every step is one batch over all services (a few syscalls
// instead of one per entry). Failures are per service: a service whose entry
// fails keeps its previous state, the rest apply, and the failed one is queued (retry-queue.ts)
// and retried with backoff by retry() until it succeeds, new input or not.
import { backendKey, frontendId, type Backend, type DesiredService } from '../model/desired-services.js';
import { BackendTable } from './backend-table.js';
import { ByBackend } from './by-backend.js';
import type { SlotKey, SlotValue } from './backends-map.js';
import type { DatapathMaps, WrittenMap } from './datapath-maps.js';
import { FRONTEND_FLAGS, frontendKey, frontendKeyId, IPPROTO_UDP, MAX_BACKENDS_PER_FRONTEND, type FrontendKey } from './frontends-map.js';
import { readSnapshot } from './map-snapshot.js';
import { deleteAll, writeAll } from './batched-writes.js';
import type { SockRevnat } from './revnat-maps.js';
import { VipAddresses } from './vip-addresses.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, mapFailureReason, RetryQueue, SYSTEM_TIMING, type FailedAttempt, type FailureReason, type FrontendFailure, type RetryTiming } from './retry-queue.js';

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
  /** reach 'external' (a north-south frontend): its address's other ports pass. */
  external: boolean;
  /** externalTrafficPolicy Local on a north-south frontend (FRONTEND_FLAGS.externalLocal). */
  externalLocal: boolean;
  /** Backend ids whose (service, backend) membership pair is in the affinity match map;
   * NO_MEMBERS (shared, never added to) until the first pair: most services have no affinity. */
  members: Set<number>;
}

/** One frontend to write in this sync. */
interface Plan {
  fid: string;
  service: DesiredService;
  state: FrontendState;
  isNew: boolean;
  ids: number[];
  generation: number;
  /** What the spare generation will hold once the writes are done. */
  half: (number | undefined)[];
  affinityTimeout: number;
  external: boolean;
  externalLocal: boolean;
  failed: boolean;
}

interface PendingBackend {
  id: number;
  backend: Backend;
  plans: Plan[];
}

/** A backend being collected. */
interface UnusedBackend {
  id: number;
  backend: Backend;
}

export interface ServiceError {
  owner: string;
  frontend: string;
  message: string;
  reason: FailureReason;
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
  /** (VIP, backend) pairs UDP frontends no longer have (removed or switched away from): the
   * caller destroys connected UDP sockets still using them. */
  departedUdp: SockRevnat[];
}

export interface RetryReport extends ReconcileReport {
  /** Failed frontends whose retry was due and was made in this pass. */
  retried: number;
  /** Of those, the ones now as desired. */
  succeeded: number;
}

export const emptyReport = (): ReconcileReport => ({ frontendsAdded: 0, frontendsUpdated: 0, frontendsRemoved: 0, backendsAdded: 0, backendsRemoved: 0, mapOperations: 0, errors: [], departedUdp: [] });

/** Slots and membership pairs to delete, tagged with the frontend they belonged to. */
interface Leftovers {
  slots: { key: SlotKey; tag: string }[];
  members: { key: { service_id: number; backend_id: number }; tag: string }[];
}

/** What this step failed to do, by frontend: queued for retry when the step ends. */
type StepFailures = Map<string, FailedAttempt>;

const MAX_ID = 0xffffffff;
/** Frontends per step of a full resync. Small enough that a step (a few milliseconds) ends
 * before the next young-generation GC: its write lists and plans then die young. A step of
 * 2,000 frontends (~80 ms at 10 endpoints each) outlived several scavenges, and everything it
 * allocated was promoted to the old generation: ~80 MB of garbage, and as much RSS, at
 * 10,000 services x 10 endpoints. */
const RESYNC_CHUNK = 200;

/** The members of every frontend without membership pairs: one empty set, not one per frontend
 * (~130 bytes each). Only addMember adds, and it gives the frontend a set of its own first. */
const NO_MEMBERS: Set<number> = new Set();

function addMember(state: FrontendState, backendId: number): void {
  if (state.members === NO_MEMBERS) state.members = new Set();
  state.members.add(backendId);
}

/** frontend_value.flags of a plan's frontend. */
function frontendFlags(p: Pick<Plan, 'external' | 'externalLocal'>): number {
  return (p.external ? FRONTEND_FLAGS.external : 0) | (p.externalLocal ? FRONTEND_FLAGS.externalLocal : 0);
}

function sameMembers(a: readonly (number | undefined)[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

export class Reconciler {
  private readonly frontends = new Map<string, FrontendState>();
  /** Every backend in the map by id, with how many live slots refer to it. */
  private readonly backendsById = new BackendTable();
  private readonly backendIdByAddr = new ByBackend<number>();
  /** Backends whose reference count reached zero since the last collection: the only ones to look at. */
  private readonly unreferenced = new Set<number>();
  private nextServiceId = 1;
  private nextBackendId = 1;
  private readonly retries: RetryQueue;
  private readonly vips: VipAddresses;
  /** Deletes of entries nothing refers to any more (slots, affinity pairs) that failed: tried
   * again by the next step. Failed backend and VIP deletes wait likewise, in `unreferenced`
   * and in the VIP table. None of them belongs to a frontend's retry, so they have a backoff
   * of their own: without new input, a stale VIP entry would refuse its address for good. */
  private leftoverRetry: Leftovers = { slots: [], members: [] };
  private cleanupAttempts = 0;
  private cleanupRetryAt: number | undefined;

  private constructor(
    private readonly maps: DatapathMaps,
    private readonly timing: RetryTiming,
  ) {
    this.retries = new RetryQueue(timing);
    this.vips = new VipAddresses(maps.vips);
  }

  /** Starts from what the maps already hold (pinned by an earlier agent), never from empty.
   * `timing` is the clock and jitter of the retries' backoff. */
  static adopt(maps: DatapathMaps, timing: RetryTiming = SYSTEM_TIMING): Reconciler {
    const r = new Reconciler(maps, timing);
    const snap = readSnapshot(maps);
    for (const [id, value] of snap.backends) {
      const backend = { address: value.address, port: value.port };
      r.backendsById.add(id, backend);
      r.unreferenced.add(id);
      if (!r.backendIdByAddr.has(backend)) r.backendIdByAddr.set(backend, id);
      r.nextBackendId = Math.max(r.nextBackendId, id + 1);
    }
    for (const f of snap.frontends) {
      r.frontends.set(frontendKeyId(f.key), {
        key: f.key,
        serviceId: f.value.service_id,
        generation: f.value.generation & 1,
        active: f.active,
        spare: f.spare,
        affinityTimeout: f.value.affinity_timeout,
        external: (f.value.flags & FRONTEND_FLAGS.external) !== 0,
        externalLocal: (f.value.flags & FRONTEND_FLAGS.externalLocal) !== 0,
        members: NO_MEMBERS,
      });
      r.nextServiceId = Math.max(r.nextServiceId, f.value.service_id + 1);
      for (const id of f.active) if (id !== undefined) r.ref(id, +1);
    }
    // Slots no frontend points to are debris of an interrupted run; nothing can read them.
    for (const key of snap.orphanSlots) maps.slots.delete(key);
    r.repairAffinityMembers();
    r.vips.adopt([...r.frontends.values()].map((f) => ({ address: f.key.address, external: f.external })));
    return r;
  }

  /** Makes the membership map hold exactly the live backends of services with affinity. */
  private repairAffinityMembers(): void {
    const want = new Map<string, FrontendState>();
    for (const f of this.frontends.values()) {
      if (f.affinityTimeout === 0) continue;
      for (const b of f.active) if (b !== undefined) want.set(`${f.serviceId}|${b}`, f);
    }
    for (const [key] of this.maps.affinityMatch.entries()) {
      if (!want.has(`${key.service_id}|${key.backend_id}`)) this.maps.affinityMatch.delete(key);
    }
    for (const [pair, f] of want) {
      const [service_id, backend_id] = pair.split('|').map(Number) as [number, number];
      this.maps.affinityMatch.set({ service_id, backend_id }, { present: 1 });
      addMember(f, backend_id);
    }
  }

  /** Entries the agent wrote (and has not deleted) in each map it writes: a slot whose write
   * failed, or found missing on adoption, is not counted. For metrics, next to MAP_CAPACITY. */
  mapEntries(): Record<WrittenMap, number> {
    let slots = 0;
    let affinityMatch = 0;
    const written = (ids: readonly (number | undefined)[]): number => ids.reduce<number>((n, id) => n + (id === undefined ? 0 : 1), 0);
    for (const f of this.frontends.values()) {
      slots += written(f.active) + written(f.spare);
      affinityMatch += f.members.size;
    }
    return { frontends: this.frontends.size, backends: this.backendsById.size, slots, affinityMatch, vips: this.vips.size };
  }

  /** The same, for log lines. */
  get size(): { frontends: number; backends: number; slots: number; vips: number } {
    const { frontends, backends, slots, vips } = this.mapEntries();
    return { frontends, backends, slots, vips };
  }

  /** Frontends not as desired, with why, how many attempts and when they are tried again. */
  failures(): FrontendFailure[] {
    return this.retries.list();
  }

  /** When the earliest queued retry is due (ms since the epoch), or undefined when none is. */
  nextRetryAt(): number | undefined {
    const frontends = this.retries.nextRetryAt();
    if (this.cleanupRetryAt === undefined) return frontends;
    return frontends === undefined ? this.cleanupRetryAt : Math.min(frontends, this.cleanupRetryAt);
  }

  /** Makes the maps hold exactly `desired`: a full resync (startup, a whole file). */
  apply(desired: readonly DesiredService[]): ReconcileReport {
    const wanted = new Map<string, DesiredService>();
    for (const s of desired) wanted.set(frontendId(s.frontend), s);
    const removals = [...this.frontends.keys()].filter((id) => !wanted.has(id));
    // A failure of a frontend no longer desired and never programmed leaves nothing to retry.
    this.retries.retain((fid) => wanted.has(fid) || this.frontends.has(fid));
    this.retries.startPass();
    return this.applyInSteps([...wanted.values()], removals);
  }

  /** Applies a delta: upserted frontends are written if they differ, removed ones deleted. */
  applyChanges(changes: { upserts: readonly DesiredService[]; removals: readonly string[] }): ReconcileReport {
    this.retries.startPass();
    const report = this.applyStep(changes);
    this.scheduleCleanup();
    return report;
  }

  /** Tries again the failed frontends whose retry is due, and only those: each is written as
   * last desired, or removed. */
  retry(): RetryReport {
    const due = this.retries.due();
    this.retries.startPass();
    const report = this.applyInSteps(
      due.flatMap((f) => (f.want ? [f.want] : [])),
      due.flatMap((f) => (f.want ? [] : [f.frontend])),
    );
    return { ...report, retried: due.length, succeeded: due.filter((f) => !this.retries.get(f.frontend)).length };
  }

  /** Large updates go in steps: each keeps every rule above, and the write lists of one step,
   * not of the whole cluster, are what the process holds at its peak. Removals go in the
   * first step, so the room they free is there for every write. */
  private applyInSteps(upserts: readonly DesiredService[], removals: readonly string[]): ReconcileReport {
    const total = emptyReport();
    for (let at = 0; at < upserts.length || at === 0; at += RESYNC_CHUNK) {
      const r = this.applyStep({ upserts: upserts.slice(at, at + RESYNC_CHUNK), removals: at === 0 ? removals : [] });
      for (const k of ['frontendsAdded', 'frontendsUpdated', 'frontendsRemoved', 'backendsAdded', 'backendsRemoved', 'mapOperations'] as const) total[k] += r[k];
      total.errors.push(...r.errors);
      total.departedUdp.push(...r.departedUdp);
    }
    this.scheduleCleanup();
    return total;
  }

  private applyStep(changes: { upserts: readonly DesiredService[]; removals: readonly string[] }): ReconcileReport {
    const report = emptyReport();
    const failures: StepFailures = new Map();
    const fail = (p: Plan, err: Error): void => {
      if (p.failed) return;
      p.failed = true;
      this.failed(report, failures, { frontend: p.fid, owner: p.service.owner, want: p.service, reason: mapFailureReason(err), message: err.message });
    };
    const pending = new ByBackend<PendingBackend>();
    const plans = this.plan(changes.upserts, pending, report, failures);

    // 1. Removed services go first, and with them what only they used: room for the writes below.
    if (changes.removals.length > 0) {
      this.removeFrontends(changes.removals, report, failures);
      this.collectBackends(report, new Set(plans.flatMap((p) => p.ids)));
    }

    // 2. New backends, before any slot refers to them.
    const newBackends = [...pending.values()];
    const failedBackends = new Set<PendingBackend>();
    report.mapOperations += writeAll(
      this.maps.backends,
      // A Backend is the map's value as it is (address and port): no copy per backend.
      newBackends.map((b) => ({ key: { backend_id: b.id }, value: b.backend, tag: b })),
      (b, err) => {
        failedBackends.add(b);
        for (const p of b.plans) fail(p, err);
      },
    );
    for (const b of newBackends) {
      if (failedBackends.has(b)) continue;
      this.backendsById.add(b.id, b.backend);
      this.unreferenced.add(b.id); // collected unless a switched list takes it below
      this.backendIdByAddr.set(b.backend, b.id);
      report.backendsAdded++;
    }

    // 3. New lists into spare generations, and membership pairs for them; no lookup reads these yet.
    const slotWrites: { key: SlotKey; value: SlotValue; tag: [Plan, number] }[] = [];
    const slotExtras: { key: SlotKey; tag: [Plan, number] }[] = [];
    const memberAdds: { key: { service_id: number; backend_id: number }; value: { present: number }; tag: [Plan, number] }[] = [];
    for (const p of plans) {
      if (p.failed) continue;
      const service_id = p.state.serviceId;
      p.ids.forEach((backend_id, slot) => {
        // Its backend is in the table: written in step 2 (a plan whose backend failed there is failed) or earlier.
        if (p.half[slot] !== backend_id) slotWrites.push({ key: { service_id, slot, generation: p.generation }, value: { backend_id, ...this.backendsById.get(backend_id)! }, tag: [p, slot] });
        p.half[slot] = backend_id;
      });
      for (let slot = p.ids.length; slot < p.half.length; slot++) slotExtras.push({ key: { service_id, slot, generation: p.generation }, tag: [p, slot] });
      p.half.length = p.ids.length;
      if (p.affinityTimeout > 0) for (const b of p.ids) if (!p.state.members.has(b)) memberAdds.push({ key: { service_id, backend_id: b }, value: { present: 1 }, tag: [p, b] });
    }
    report.mapOperations += writeAll(this.maps.slots, slotWrites, ([p, slot], err) => {
      p.half[slot] = undefined; // unknown content: rewritten next time
      fail(p, err);
    });
    report.mapOperations += deleteAll(this.maps.slots, slotExtras, ([p, slot], err) => {
      p.half.length = Math.max(p.half.length, slot + 1); // still there: deleted next time
      fail(p, err);
    });
    const failedMembers = new Set<[Plan, number]>();
    report.mapOperations += writeAll(this.maps.affinityMatch, memberAdds, (tag, err) => {
      failedMembers.add(tag);
      fail(tag[0], err);
    });
    for (const { tag } of memberAdds) if (!failedMembers.has(tag)) addMember(tag[0].state, tag[1]);

    // New frontends' addresses first; then the switch: one frontend update per service
    // replaces count, generation and affinity together.
    report.mapOperations += this.vips.ensure(
      plans.filter((p) => p.isNew && !p.failed).map((p) => ({ address: p.state.key.address, external: p.external, tag: p })),
      (p, err) => fail(p, err),
    );
    const flips = plans.filter((p) => !p.failed);
    report.mapOperations += writeAll(
      this.maps.frontends,
      flips.map((p) => ({
        key: p.state.key,
        value: { service_id: p.state.serviceId, backend_count: p.ids.length, generation: p.generation, flags: frontendFlags(p), affinity_timeout: p.affinityTimeout },
        tag: p,
      })),
      (p, err) => fail(p, err),
    );

    // 4. The switched services' new state; pairs of backends that left them go after the switch.
    const afterSwitch: Leftovers = { slots: [], members: [] };
    for (const p of plans) {
      const s = p.state;
      s.spare = p.half;
      if (p.failed) {
        // A new service that never went live: what was written for it is unreachable; remove it.
        if (p.isNew) p.half.forEach((_, slot) => afterSwitch.slots.push({ key: { service_id: s.serviceId, slot, generation: p.generation }, tag: p.fid }));
        // Pairs added for the list that did not go live would let a client that remembered one
        // of its backends (one that left earlier, say) return to it: only the live list's stay.
        this.dropMembersExcept(s, s.affinityTimeout > 0 ? s.active : [], p.fid, afterSwitch);
        continue;
      }
      if (p.isNew) {
        this.frontends.set(p.fid, s);
        this.vips.live({ address: s.key.address, external: p.external });
      } else if (s.external !== p.external) {
        // A frontend that became a cluster IP's, or stopped being one: its address's flags follow.
        this.vips.gone({ address: s.key.address, external: s.external });
        this.vips.live({ address: s.key.address, external: p.external });
      }
      s.external = p.external;
      s.externalLocal = p.externalLocal;
      for (const b of p.ids) this.ref(b, +1);
      for (const b of s.active) if (b !== undefined) this.ref(b, -1);
      this.noteDepartedUdp(report, s, s.active, p.ids);
      s.spare = s.active;
      s.active = p.ids;
      s.generation = p.generation;
      s.affinityTimeout = p.affinityTimeout;
      this.dropMembersExcept(s, p.affinityTimeout > 0 ? p.ids : [], p.fid, afterSwitch);
      if (p.isNew) report.frontendsAdded++;
      else report.frontendsUpdated++;
    }
    this.deleteLeftovers(afterSwitch, report);
    // Addresses whose last frontend left (in step 1 or never went live) leave the VIP map.
    report.mapOperations += this.vips.settle((address, err) =>
      report.errors.push({ owner: '(service address)', frontend: address, message: err.message, reason: mapFailureReason(err) }),
    );
    // Backends no live list refers to any more.
    this.collectBackends(report);

    // What failed is queued for a retry; what was asked and did not fail is as desired now.
    for (const s of changes.upserts) this.settle(frontendId(s.frontend), failures);
    for (const fid of changes.removals) this.settle(fid, failures);
    return report;
  }

  private failed(report: ReconcileReport, failures: StepFailures, attempt: FailedAttempt): void {
    report.errors.push({ owner: attempt.owner, frontend: attempt.frontend, message: attempt.message, reason: attempt.reason });
    failures.set(attempt.frontend, attempt);
  }

  private settle(fid: string, failures: StepFailures): void {
    const failure = failures.get(fid);
    if (failure) this.retries.failed(failure);
    else this.retries.succeeded(fid);
  }

  /** Removed services leave the frontends map, then their slots and membership pairs go. */
  private removeFrontends(removals: readonly string[], report: ReconcileReport, failures: StepFailures): void {
    const removed = removals.flatMap((fid) => {
      const state = this.frontends.get(fid);
      return state ? [{ fid, state }] : [];
    });
    const failedRemovals = new Set<string>();
    report.mapOperations += deleteAll(
      this.maps.frontends,
      removed.map((r) => ({ key: r.state.key, tag: r.fid })),
      (fid, err) => {
        failedRemovals.add(fid);
        this.failed(report, failures, { frontend: fid, owner: '(removed service)', want: undefined, reason: mapFailureReason(err), message: err.message });
      },
    );
    const leftovers: Leftovers = { slots: [], members: [] };
    for (const { fid, state } of removed) {
      if (failedRemovals.has(fid)) continue;
      this.frontends.delete(fid);
      this.vips.gone({ address: state.key.address, external: state.external });
      for (const b of state.active) if (b !== undefined) this.ref(b, -1);
      this.noteDepartedUdp(report, state, state.active, []);
      report.frontendsRemoved++;
      const generations: [number, (number | undefined)[]][] = [
        [state.generation, state.active],
        [state.generation ^ 1, state.spare],
      ];
      for (const [generation, slots] of generations) slots.forEach((_, slot) => leftovers.slots.push({ key: { service_id: state.serviceId, slot, generation }, tag: fid }));
      for (const b of state.members) leftovers.members.push({ key: { service_id: state.serviceId, backend_id: b }, tag: fid });
    }
    this.deleteLeftovers(leftovers, report);
  }

  /** Queues for deletion the frontend's membership pairs of backends not in `live` (the list
   * lookups read once this step's switch is done, or [] when the frontend has no affinity). */
  private dropMembersExcept(s: FrontendState, live: readonly (number | undefined)[], fid: string, leftovers: Leftovers): void {
    const keep = new Set(live);
    for (const b of s.members) {
      if (keep.has(b)) continue;
      leftovers.members.push({ key: { service_id: s.serviceId, backend_id: b }, tag: fid });
      s.members.delete(b);
    }
  }

  /** Slots and membership pairs no lookup can reach any more. */
  private deleteLeftovers(leftovers: Leftovers, report: ReconcileReport): void {
    const retry = this.leftoverRetry;
    this.leftoverRetry = { slots: [], members: [] };
    const onError =
      <E extends { tag: string }>(kept: E[]) =>
      (entry: E, err: Error): void => {
        kept.push(entry);
        report.errors.push({ owner: '(cleanup)', frontend: entry.tag, message: err.message, reason: mapFailureReason(err) });
      };
    const slots = [...retry.slots, ...leftovers.slots];
    const members = [...retry.members, ...leftovers.members];
    report.mapOperations += deleteAll(
      this.maps.slots,
      slots.map((e) => ({ key: e.key, tag: e })),
      onError(this.leftoverRetry.slots),
    );
    report.mapOperations += deleteAll(
      this.maps.affinityMatch,
      members.map((e) => ({ key: e.key, tag: e })),
      onError(this.leftoverRetry.members),
    );
  }

  /** Whether some delete of an entry nothing refers to failed and waits to be tried again. */
  private cleanupPending(): boolean {
    return this.unreferenced.size > 0 || this.vips.pending || this.leftoverRetry.slots.length > 0 || this.leftoverRetry.members.length > 0;
  }

  /** After a step: a pending cleanup gets a retry time with backoff; none clears it. */
  private scheduleCleanup(): void {
    if (!this.cleanupPending()) {
      this.cleanupAttempts = 0;
      this.cleanupRetryAt = undefined;
      return;
    }
    this.cleanupAttempts++;
    this.cleanupRetryAt = this.timing.now() + backoffDelayMs(this.timing.policy ?? DEFAULT_RETRY_POLICY, this.cleanupAttempts, this.timing.random());
  }

  /** Called once the frontend's switch from `before` to `after` is in the map. Backends are
   * still in the table here: they are collected after this. */
  private noteDepartedUdp(report: ReconcileReport, state: FrontendState, before: readonly (number | undefined)[], after: readonly number[]): void {
    if (state.key.protocol !== IPPROTO_UDP) return;
    const kept = new Set(after);
    for (const id of before) {
      const backend = id === undefined || kept.has(id) ? undefined : this.backendsById.get(id);
      if (backend) report.departedUdp.push({ vip: state.key.address, vip_port: state.key.port, backend: backend.address, backend_port: backend.port });
    }
  }

  /** What each upsert needs written; allocates ids, writes nothing. */
  private plan(upserts: readonly DesiredService[], pending: ByBackend<PendingBackend>, report: ReconcileReport, failures: StepFailures): Plan[] {
    const plans: Plan[] = [];
    // Input socklb cannot program as it is: retrying would fail the same way until it changes.
    const unsupported = (service: DesiredService, fid: string, message: string): void =>
      this.failed(report, failures, { frontend: fid, owner: service.owner, want: service, reason: 'unsupported', message });
    for (const service of upserts) {
      const fid = frontendId(service.frontend);
      if (service.backends.length > MAX_BACKENDS_PER_FRONTEND) {
        unsupported(service, fid, `has ${service.backends.length} endpoints; socklb supports at most ${MAX_BACKENDS_PER_FRONTEND} per service port`);
        continue;
      }
      const current = this.frontends.get(fid);
      const affinityTimeout = service.affinityTimeoutSeconds ?? 0;
      const external = service.reach === 'external';
      const externalLocal = external && service.externalPolicyLocal === true;
      const used: PendingBackend[] = [];
      let ids: number[];
      try {
        ids = service.backends.map((b) => this.backendIdFor(b, pending, used));
      } catch (err) {
        unsupported(service, fid, (err as Error).message);
        continue;
      }
      if (current && current.affinityTimeout === affinityTimeout && current.external === external && current.externalLocal === externalLocal && sameMembers(current.active, ids)) continue;
      let state = current;
      if (!state) {
        try {
          state = { key: frontendKey(service.frontend), serviceId: this.allocServiceId(), generation: 0, active: [], spare: [], affinityTimeout: 0, external, externalLocal, members: NO_MEMBERS };
        } catch (err) {
          unsupported(service, fid, (err as Error).message);
          continue;
        }
      }
      const p: Plan = {
        fid,
        service,
        state,
        isNew: !current,
        ids,
        generation: current ? current.generation ^ 1 : 0,
        half: current ? [...current.spare] : [],
        affinityTimeout,
        external,
        externalLocal,
        failed: false,
      };
      for (const b of used) b.plans.push(p);
      plans.push(p);
    }
    return plans;
  }

  /** The id of a backend, allocating one (written in step 1) for an address not seen before. */
  private backendIdFor(backend: Backend, pending: ByBackend<PendingBackend>, used: PendingBackend[]): number {
    const known = this.backendIdByAddr.get(backend);
    if (known !== undefined) return known;
    let p = pending.get(backend);
    if (!p) {
      if (this.nextBackendId > MAX_ID) throw new Error('backend ids are exhausted; restart the agent after `socklb uninstall`');
      p = { id: this.nextBackendId++, backend, plans: [] };
      pending.set(backend, p);
    }
    used.push(p);
    return p.id;
  }

  private allocServiceId(): number {
    if (this.nextServiceId > MAX_ID) throw new Error('service ids are exhausted; restart the agent after `socklb uninstall`');
    return this.nextServiceId++;
  }

  private ref(id: number, delta: number): void {
    const refs = this.backendsById.ref(id, delta);
    if (refs !== undefined && refs <= 0) this.unreferenced.add(id);
  }

  /** Deletes the backends no live list refers to, except those in `inUse` (a list about to be
   * written refers to them): those are looked at again by the next collection. */
  private collectBackends(report: ReconcileReport, inUse?: ReadonlySet<number>): void {
    const unused: UnusedBackend[] = [];
    for (const id of this.unreferenced) {
      if (inUse?.has(id)) continue;
      this.unreferenced.delete(id);
      const backend = this.backendsById.get(id);
      if (backend && this.backendsById.refs(id) <= 0) unused.push({ id, backend });
    }
    const failed = new Set<UnusedBackend>();
    report.mapOperations += deleteAll(
      this.maps.backends,
      unused.map((b) => ({ key: { backend_id: b.id }, tag: b })),
      (b, err) => {
        failed.add(b);
        report.errors.push({ owner: '(backend)', frontend: backendKey(b.backend), message: err.message, reason: mapFailureReason(err) });
      },
    );
    for (const b of unused) {
      if (failed.has(b)) {
        this.unreferenced.add(b.id); // tried again next time
        continue;
      }
      this.backendsById.delete(b.id);
      if (this.backendIdByAddr.get(b.backend) === b.id) this.backendIdByAddr.delete(b.backend);
      report.backendsRemoved++;
    }
  }
}
