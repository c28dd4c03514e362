// The agent converges by itself: whatever sequence of states its source hands out, and whatever
// failures are injected on the way (map writes, deletes and iterations failing, batches
// stopping part-way, the source throwing or not ready), once the faults stop, the agent's own
// timers (the sync retry after a throw, the retry pass over failed frontends), driven by a
// clock the test moves, bring the maps to the last state: every lookup as desired, nothing
// left behind. The agent is built from its parts (maps, source, clock, random source, logger,
// metrics), none of them the kernel's.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import t from 'tap';
import { startAgent } from '../../src/cli/agent.js';
import { Metrics } from '../../src/cli/metrics.js';
import { NO_TARGET_CHANGES } from '../../src/datapath/datapath-component.js';
import type { Datapath } from '../../src/datapath/datapath.js';
import { SERVICES, type DesiredService } from '../../src/model/desired-services.js';
import { deltaTable, fullTable } from '../../src/model/desired-tables.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { ENOMEM, faultyMaps, type FaultPlan, type FaultyMaps } from '../helpers/faulty-maps.js';
import { FaultySource } from '../helpers/faulty-source.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { desiredView, frontendsWithoutVip, lookupView, mapError, memoryMaps } from '../helpers/memory-maps.js';

const svc = (address: string, backends: string[]): DesiredService => ({
  frontend: { address, port: 80, protocol: 'TCP' },
  backends: backends.map((a) => ({ address: a, port: 8080 })),
  owner: `ns/${address}`,
});
const fid = (s: DesiredService): string => `${s.frontend.address}|80|TCP`;

/** A small PRNG (mulberry32) so a fault plan is a pure function of its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Fails each operation with probability p: E2BIG or ENOMEM, batches after a random part. */
function randomPlan(seed: number, p: number): FaultPlan {
  const rnd = prng(seed);
  return (map, op, size) => {
    if (rnd() >= p) return undefined;
    const error = rnd() < 0.5 ? mapError(`${op} on ${map}: Argument list too long (E2BIG)`, 7) : ENOMEM(`${op} on ${map}`);
    return { error, done: Math.floor(rnd() * (size + 1)) };
  };
}

const address = fc.constantFrom('10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5', 'fd00:96::1');
const backend = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5');
const state = fc.uniqueArray(fc.record({ address, backends: fc.uniqueArray(backend, { maxLength: 4 }) }), { selector: (s) => s.address, maxLength: 6 });
type Step =
  | { kind: 'state'; state: { address: string; backends: string[] }[]; asDelta: boolean }
  | { kind: 'map-faults'; seed: number; p: number }
  | { kind: 'take-throws'; times: number }
  | { kind: 'ready'; ready: boolean }
  | { kind: 'advance'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('state' as const), state, asDelta: fc.boolean() }),
  fc.record({ kind: fc.constant('map-faults' as const), seed: fc.integer(), p: fc.constantFrom(0, 0.1, 0.3, 0.6, 1) }),
  fc.record({ kind: fc.constant('take-throws' as const), times: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('ready' as const), ready: fc.boolean() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
);

interface Outcome {
  maps: FaultyMaps;
  reconciler: Reconciler;
  last: DesiredService[];
  ready: boolean;
  injected: number;
}

/** Runs a script against an agent built from in-memory parts, then lets its timers run for ten minutes without faults. */
function run(script: readonly Step[], jitterSeed: number): Outcome {
  const clock = new ManualClock();
  const random = prng(jitterSeed);
  const maps = faultyMaps(memoryMaps());
  const reconciler = Reconciler.adopt(maps, { now: () => clock.now(), random });
  const datapath: Datapath = {
    maps,
    reconciler,
    components: [],
    ct: undefined,
    flowTables: [],
    udp: undefined,
    policy: undefined,
    podNetns: undefined,
    attachPodInterface: undefined,
    summary: {},
    upgradingFrom: [],
    finishUpgrade: () => ({}),
    sync: () => NO_TARGET_CHANGES,
    missing: () => [],
    close: () => undefined,
  };
  const source = new FaultySource();
  const agent = startAgent({ bpffs: '/unused', cgroup: '/unused' }, { log: pino({ level: 'silent' }), source, datapath, clock, random, metrics: new Metrics() });
  let last: DesiredService[] = [];
  source.push({ tables: [fullTable(SERVICES, [])] });
  for (const s of script) {
    if (s.kind === 'state') {
      const next = s.state.map((x) => svc(x.address, x.backends));
      const ids = new Set(next.map(fid));
      source.push({ tables: [s.asDelta ? deltaTable(SERVICES, { upserts: next, removals: last.map(fid).filter((id) => !ids.has(id)) }) : fullTable(SERVICES, next)] });
      last = next;
    } else if (s.kind === 'map-faults') maps.setPlan(s.p === 0 ? undefined : randomPlan(s.seed, s.p));
    else if (s.kind === 'take-throws') source.takeFailures = s.times;
    else if (s.kind === 'ready') source.setReady(s.ready);
    else clock.advance(s.ms);
    clock.advance(0);
  }
  // The faults end; from here on only the agent's own timers act.
  maps.setPlan(undefined);
  source.takeFailures = 0;
  source.setReady(true);
  clock.advance(10 * 60_000);
  const ready = agent.ready();
  void agent.stop();
  return { maps, reconciler, last, ready, injected: maps.injected() + source.injected };
}

const scripts = fc.tuple(fc.array(step, { minLength: 1, maxLength: 30, size: 'max' }), fc.integer());
const RUNS = Number(process.env.RUNS ?? 300);

t.test('after any sequence of states and injected failures, the agent converges to the last state', async (t) => {
  let injected = 0;
  let steps = 0;
  fc.assert(
    fc.property(scripts, ([script, seed]) => {
      const o = run(script, seed);
      injected += o.injected;
      steps += script.length;
      assert.deepEqual(o.reconciler.failures(), [], 'nothing left to retry');
      assert.deepEqual(Object.fromEntries(lookupView(o.maps)), Object.fromEntries(desiredView(o.last)), 'every lookup as desired');
      assert.deepEqual(frontendsWithoutVip(o.maps), [], 'every frontend has its address in the VIP map');
      assert.ok(o.ready, 'ready');
    }),
    { numRuns: RUNS },
  );
  t.ok(injected > RUNS * 3, `${injected} failures injected over ${steps} steps of ${RUNS} scripts, every script converged`);
});

// Found by the property above: a failed delete of something no frontend refers to any more (a
// backend, a service address, an unreachable slot) used to be tried again only by the next
// sync or frontend retry; when none came, the entry stayed (a stale VIP entry makes the address
// refuse connections as a service address without that port). Such deletes now have a backoff
// of their own in the reconciler, run by the retry timer.
t.test('after the faults, nothing is left behind that the last state does not use', async (t) => {
  let counterexample = '';
  try {
    fc.assert(
      fc.property(scripts, ([script, seed]) => {
        const o = run(script, seed);
        const live = new Set([...desiredView(o.last).values()].flat());
        assert.equal(o.maps.backends.entries().length, live.size, 'no backend left behind');
        assert.equal(o.maps.vips.entries().length, new Set(o.last.map((s) => s.frontend.address)).size, 'one VIP entry per service address');
      }),
      { numRuns: RUNS },
    );
  } catch (err) {
    counterexample = (err as Error).message.split('\n').find((l) => l.startsWith('Counterexample')) ?? (err as Error).message;
  }
  t.equal(counterexample, '', 'no backend or VIP entry left behind');
});
