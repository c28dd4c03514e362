// The reconciler converges by itself: failed frontends are retried with backoff until they
// succeed, removals make room before writes, and new input replaces a queued retry. Faults
// come from the in-memory maps (capacities and per-key failures, as the kernel raises them);
// time from a clock the test moves.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import type { DesiredService } from '../../src/model/desired-services.js';
import { MAP_CAPACITY, WRITTEN_MAPS } from '../../src/datapath/datapath-maps.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryTiming } from '../../src/datapath/retry-queue.js';
import { affinityMembers, desiredView, lookupView, mapError, memoryMaps } from '../helpers/memory-maps.js';

const svc = (address: string, port: number, backends: string[]): DesiredService => ({
  frontend: { address, port, protocol: 'TCP' },
  backends: backends.map((a) => ({ address: a, port: 8080 })),
  owner: `ns/${address}-${port}`,
});

/** A clock at 0 that moves only when told; jitter fixed at the middle (a factor of 1). */
function testTiming(random = 0.5): RetryTiming & { advance(ms: number): void } {
  let now = 0;
  return { now: () => now, random: () => random, advance: (ms) => void (now += ms) };
}

const view = (maps: ReturnType<typeof memoryMaps>): Record<string, unknown> => Object.fromEntries(lookupView(maps));
const expected = (services: DesiredService[]): Record<string, unknown> => Object.fromEntries(desiredView(services));

t.test('the backoff doubles from 100 ms to 30 s, with jitter of +-20%', async (t) => {
  t.same(
    [1, 2, 3, 4, 5, 9, 10, 11, 50, 5000].map((n) => backoffDelayMs(DEFAULT_RETRY_POLICY, n, 0.5)),
    [100, 200, 400, 800, 1600, 25_600, 30_000, 30_000, 30_000, 30_000],
  );
  t.equal(backoffDelayMs(DEFAULT_RETRY_POLICY, 1, 0), 80);
  t.equal(backoffDelayMs(DEFAULT_RETRY_POLICY, 10, 0.999999), 36_000);
});

t.test('a frontend that found the map full is retried with growing backoff until it fits', async (t) => {
  const maps = memoryMaps();
  maps.frontends.capacity = 2;
  const clock = testTiming();
  const r = Reconciler.adopt(maps, clock);
  const want = [svc('10.96.0.1', 80, ['10.0.0.1']), svc('10.96.0.2', 80, ['10.0.0.1']), svc('10.96.0.3', 80, ['10.0.0.2'])];
  const first = r.apply(want);
  t.match(first.errors, [{ frontend: '10.96.0.3|80|TCP', reason: 'map_full', message: /E2BIG/ }]);
  t.match(r.failures(), [{ frontend: '10.96.0.3|80|TCP', reason: 'map_full', attempts: 1, retryAt: 100, want: want[2] }]);
  t.equal(maps.backends.data.size, 1, "the failed frontend's new backend is not left behind");
  t.equal(r.nextRetryAt(), 100);

  clock.advance(99);
  t.match(r.retry(), { retried: 0, mapOperations: 0 }, 'nothing is due before its time');
  const waits: number[] = [];
  for (let pass = 0; pass < 5; pass++) {
    const at = r.nextRetryAt()!;
    waits.push(at - clock.now());
    clock.advance(at - clock.now());
    t.match(r.retry(), { retried: 1, errors: [{ reason: 'map_full' }] });
  }
  t.same(waits, [1, 200, 400, 800, 1600], 'each failed retry doubles the wait');
  t.match(r.failures(), [{ attempts: 6, retryAt: clock.now() + 3200 }]);

  maps.frontends.capacity = 3;
  clock.advance(3200);
  const done = r.retry();
  t.match(done, { retried: 1, frontendsAdded: 1, backendsAdded: 1, errors: [] });
  t.same(view(maps), expected(want));
  t.same(r.failures(), [], 'a success forgets the failure');
  t.equal(r.nextRetryAt(), undefined);
  t.match(r.retry(), { retried: 0, mapOperations: 0 });
});

t.test('frontends that failed in one pass share one jitter draw and are retried in one pass', async (t) => {
  const maps = memoryMaps();
  maps.frontends.capacity = 1;
  let draws = 0;
  const rnd = [0.1, 0.9, 0.3];
  const timing: RetryTiming = { now: () => 0, random: () => rnd[draws++ % rnd.length]! };
  const r = Reconciler.adopt(maps, timing);
  r.apply([svc('10.96.0.1', 80, []), svc('10.96.0.2', 80, []), svc('10.96.0.3', 80, []), svc('10.96.0.4', 80, [])]);
  t.same(
    r.failures().map((f) => f.retryAt),
    [84, 84, 84],
    'one draw (0.1) for the whole pass, not one per frontend',
  );
});

t.test('a new desired state for a failed frontend replaces its queued retry', async (t) => {
  const maps = memoryMaps();
  const clock = testTiming();
  const r = Reconciler.adopt(maps, clock);
  const v1 = svc('10.96.0.1', 80, ['10.0.0.1']);
  const v2 = svc('10.96.0.1', 80, ['10.0.0.2', '10.0.0.3']);
  const v3 = svc('10.96.0.1', 80, ['10.0.0.4']);
  maps.slots.failWrite = () => mapError('update of map slb_slots: Cannot allocate memory (ENOMEM)', 12);
  t.match(r.applyChanges({ upserts: [v1], removals: [] }).errors, [{ reason: 'map_error' }]);
  t.match(r.applyChanges({ upserts: [v2], removals: [] }).errors, [{ reason: 'map_error' }]);
  t.match(r.failures(), [{ want: v2, attempts: 2, retryAt: 200 }], 'the retry now writes the newer state; attempts go on counting');
  maps.slots.failWrite = undefined;
  clock.advance(200);
  t.match(r.retry(), { retried: 1, frontendsAdded: 1, errors: [] });
  t.same(view(maps), expected([v2]));

  // New input that succeeds clears a queued retry before it is due.
  maps.frontends.failWrite = () => mapError('update of map slb_frontends: Cannot allocate memory (ENOMEM)', 12);
  r.applyChanges({ upserts: [v3], removals: [] });
  t.equal(r.failures().length, 1);
  t.same(view(maps), expected([v2]), 'the failed update keeps the previous state');
  maps.frontends.failWrite = undefined;
  t.same(r.applyChanges({ upserts: [v2], removals: [] }).errors, [], 'back to what is programmed: nothing to write');
  t.same(r.failures(), [], 'and nothing left to retry');
  clock.advance(60_000);
  t.match(r.retry(), { retried: 0, mapOperations: 0 });
  t.same(view(maps), expected([v2]), 'the stale v3 is never written');
});

t.test('membership pairs written for a switch that failed do not stay: a client cannot return to a backend that left', async (t) => {
  const maps = memoryMaps();
  const clock = testTiming();
  const r = Reconciler.adopt(maps, clock);
  const sticky = (backends: string[]): DesiredService => ({ ...svc('10.96.0.1', 80, backends), affinityTimeoutSeconds: 60 });
  // Another service keeps 10.0.0.3 in the backends map, so it keeps its backend id throughout.
  const other = svc('10.96.0.9', 80, ['10.0.0.3']);
  const members = (): string[] => [...affinityMembers(maps)].sort();
  r.apply([sticky(['10.0.0.1', '10.0.0.3']), other]);
  t.same(members(), ['10.96.0.1|80|TCP -> 10.0.0.1|8080', '10.96.0.1|80|TCP -> 10.0.0.3|8080']);
  // 10.0.0.3 leaves the service; clients that remembered it must pick again.
  r.apply([sticky(['10.0.0.1']), other]);
  t.same(members(), ['10.96.0.1|80|TCP -> 10.0.0.1|8080']);

  // It is added back, and the switch to the new list fails: the frontend still serves [10.0.0.1].
  maps.frontends.failWrite = (k) => (k.address === '10.96.0.1' ? mapError('update of map slb_frontends: Cannot allocate memory (ENOMEM)', 12) : undefined);
  t.match(r.apply([sticky(['10.0.0.1', '10.0.0.3']), other]).errors, [{ frontend: '10.96.0.1|80|TCP', reason: 'map_error' }]);
  t.same(view(maps)['10.96.0.1|80|TCP'], ['10.0.0.1|8080'], 'the failed switch keeps the live list');
  t.same(members(), ['10.96.0.1|80|TCP -> 10.0.0.1|8080'], 'only live backends are members: a client that remembered 10.0.0.3 picks again');

  // A switch that turns affinity on and fails leaves no pair either (the live frontend has none).
  r.apply([svc('10.96.0.2', 80, ['10.0.0.1']), other]);
  const sessions = maps.affinityMatch.data.size;
  maps.frontends.failWrite = (k) => (k.address === '10.96.0.2' ? mapError('update of map slb_frontends: Cannot allocate memory (ENOMEM)', 12) : undefined);
  r.apply([{ ...svc('10.96.0.2', 80, ['10.0.0.1', '10.0.0.3']), affinityTimeoutSeconds: 30 }, other]);
  t.equal(maps.affinityMatch.data.size, sessions, 'no pair for a frontend whose affinity never went live');

  // The retry writes the list, and its pairs, once the switch succeeds.
  maps.frontends.failWrite = undefined;
  clock.advance(r.nextRetryAt()! - clock.now());
  t.match(r.retry(), { retried: 1, succeeded: 1, errors: [] });
  t.same(members(), ['10.96.0.2|80|TCP -> 10.0.0.1|8080', '10.96.0.2|80|TCP -> 10.0.0.3|8080']);
});

t.test('a failed frontend that is no longer desired is not retried', async (t) => {
  const maps = memoryMaps();
  maps.frontends.capacity = 1;
  const clock = testTiming();
  const r = Reconciler.adopt(maps, clock);
  const a = svc('10.96.0.1', 80, ['10.0.0.1']);
  const b = svc('10.96.0.2', 80, ['10.0.0.2']);
  const c = svc('10.96.0.3', 80, ['10.0.0.3']);
  r.apply([a, b, c]);
  t.equal(r.failures().length, 2);
  r.applyChanges({ upserts: [], removals: ['10.96.0.2|80|TCP'] });
  t.same(
    r.failures().map((f) => f.frontend),
    ['10.96.0.3|80|TCP'],
    'a delta removing it',
  );
  r.apply([a]);
  t.same(r.failures(), [], 'a full state without it');
  maps.frontends.capacity = undefined;
  clock.advance(60_000);
  t.match(r.retry(), { retried: 0 });
  t.same(view(maps), expected([a]));
});

t.test('a removal that fails is retried', async (t) => {
  const maps = memoryMaps();
  const clock = testTiming();
  const r = Reconciler.adopt(maps, clock);
  const a = svc('10.96.0.1', 80, ['10.0.0.1']);
  r.apply([a]);
  maps.frontends.failDelete = () => mapError('delete from map slb_frontends: Device or resource busy (EBUSY)', 16);
  t.match(r.apply([]).errors, [{ owner: '(removed service)', frontend: '10.96.0.1|80|TCP', reason: 'map_error' }]);
  t.same(view(maps), expected([a]), 'still programmed, whole');
  t.match(r.failures(), [{ frontend: '10.96.0.1|80|TCP', want: undefined, attempts: 1 }]);
  maps.frontends.failDelete = undefined;
  clock.advance(100);
  t.match(r.retry(), { retried: 1, frontendsRemoved: 1, backendsRemoved: 1, errors: [] });
  t.equal(maps.frontends.data.size + maps.slots.data.size + maps.backends.data.size, 0);
});

t.test('input socklb cannot program is reported, not retried', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps, testTiming());
  const many = Array.from({ length: 0x10000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  r.apply([svc('10.96.0.1', 80, many)]);
  t.match(r.failures(), [{ reason: 'unsupported', attempts: 1, retryAt: undefined, message: /65536 endpoints/ }]);
  t.equal(r.nextRetryAt(), undefined);
});

t.test('removals go first, so a replacement near capacity fits: frontends, slots and backends', async (t) => {
  const maps = memoryMaps();
  maps.frontends.capacity = 3;
  maps.slots.capacity = 3;
  maps.backends.capacity = 3;
  const r = Reconciler.adopt(maps, testTiming());
  const old = [svc('10.96.0.1', 80, ['10.0.0.1']), svc('10.96.0.2', 80, ['10.0.0.2']), svc('10.96.0.3', 80, ['10.0.0.9'])];
  t.same(r.apply(old).errors, []);
  // Two frontends replaced by two others with other backends; one kept, whose backend stays.
  const next = [svc('10.96.1.1', 80, ['10.0.1.1']), svc('10.96.1.2', 80, ['10.0.1.2']), old[2]!];
  const report = r.apply(next);
  t.same(report.errors, []);
  t.match(report, { frontendsAdded: 2, frontendsRemoved: 2, backendsAdded: 2, backendsRemoved: 2 });
  t.same(view(maps), expected(next));
  // A delta too, and a backend shared by a removed and an added frontend keeps its id.
  const moved = svc('10.96.2.1', 80, ['10.0.1.1']);
  const sharedId = maps.backends.entries().find(([, v]) => v.address === '10.0.1.1')![0].backend_id;
  t.same(r.applyChanges({ upserts: [moved], removals: ['10.96.1.1|80|TCP'] }).errors, []);
  t.same(view(maps), expected([moved, next[1]!, next[2]!]));
  t.equal(maps.backends.entries().find(([, v]) => v.address === '10.0.1.1')![0].backend_id, sharedId, 'not deleted and written again');
});

t.test('after any sequence of states under injected faults, retries converge to the last state', async (t) => {
  const address = fc.constantFrom('10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5');
  const backend = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4');
  const state = fc.uniqueArray(fc.record({ address, backends: fc.uniqueArray(backend, { maxLength: 3 }) }), { selector: (s) => s.address, maxLength: 5 });
  const faults = fc.record({
    frontends: fc.integer({ min: 0, max: 5 }),
    slots: fc.integer({ min: 0, max: 12 }),
    backends: fc.integer({ min: 0, max: 4 }),
    failDeletes: fc.boolean(),
  });
  let passes = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(state, faults, fc.boolean()), { minLength: 1, maxLength: 5 }), (steps) => {
      const maps = memoryMaps();
      const clock = testTiming();
      const r = Reconciler.adopt(maps, clock);
      let last: DesiredService[] = [];
      for (const [s, f, asDelta] of steps) {
        maps.frontends.capacity = f.frontends;
        maps.slots.capacity = f.slots;
        maps.backends.capacity = f.backends;
        maps.frontends.failDelete = f.failDeletes ? () => mapError('EBUSY', 16) : undefined;
        const next = s.map((x) => svc(x.address, 80, x.backends));
        if (asDelta) {
          const ids = new Set(next.map((x) => `${x.frontend.address}|80|TCP`));
          r.applyChanges({ upserts: next, removals: last.map((x) => `${x.frontend.address}|80|TCP`).filter((id) => !ids.has(id)) });
        } else r.apply(next);
        last = next;
        clock.advance(50);
        r.retry();
      }
      maps.frontends.capacity = maps.slots.capacity = maps.backends.capacity = undefined;
      maps.frontends.failDelete = undefined;
      for (let i = 0; i < 20 && r.nextRetryAt() !== undefined; i++) {
        clock.advance(r.nextRetryAt()! - clock.now());
        r.retry();
        passes++;
      }
      assert.deepEqual(r.failures(), []);
      assert.deepEqual(view(maps), expected(last));
      // Nothing is left behind that the last state does not use.
      const live = new Set([...desiredView(last).values()].flat());
      assert.equal(maps.backends.data.size, live.size);
    }),
    { numRuns: 300 },
  );
  t.pass(`300 sequences converged after ${passes} retry passes`);
});

t.test('under injected faults, membership pairs are never more than the live backends of frontends with affinity', async (t) => {
  const address = fc.constantFrom('10.96.0.1', '10.96.0.2', '10.96.0.3');
  const backend = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4');
  const state = fc.uniqueArray(fc.record({ address, backends: fc.uniqueArray(backend, { maxLength: 3 }), affinity: fc.boolean() }), { selector: (s) => s.address, maxLength: 3 });
  const faults = fc.record({ frontends: fc.integer({ min: 0, max: 3 }), slots: fc.integer({ min: 0, max: 10 }), members: fc.integer({ min: 0, max: 8 }) });
  /** "VIP|port|PROTO -> backend" for every backend a lookup of a frontend with affinity can pick. */
  const livePairs = (maps: ReturnType<typeof memoryMaps>): Set<string> => {
    const sticky = new Set(maps.frontends.entries().flatMap(([k, v]) => (v.affinity_timeout > 0 ? [`${k.address}|${k.port}|TCP`] : [])));
    return new Set([...lookupView(maps)].flatMap(([fid, list]) => (sticky.has(fid) && list !== 'broken' ? list.map((b) => `${fid} -> ${b}`) : [])));
  };
  fc.assert(
    fc.property(fc.array(fc.tuple(state, faults), { minLength: 1, maxLength: 5 }), (steps) => {
      const maps = memoryMaps();
      const clock = testTiming();
      const r = Reconciler.adopt(maps, clock);
      const check = (when: string): void => {
        const live = livePairs(maps);
        const stale = [...affinityMembers(maps)].filter((m) => !live.has(m));
        assert.deepEqual(stale, [], `${when}: membership pairs of backends no lookup picks`);
      };
      let last: DesiredService[] = [];
      for (const [s, f] of steps) {
        maps.frontends.capacity = f.frontends;
        maps.slots.capacity = f.slots;
        maps.affinityMatch.capacity = f.members;
        last = s.map((x) => ({ ...svc(x.address, 80, x.backends), affinityTimeoutSeconds: x.affinity ? 30 : 0 }));
        r.apply(last);
        check('after a sync');
        clock.advance(50);
        r.retry();
        check('after a retry');
      }
      maps.frontends.capacity = maps.slots.capacity = maps.affinityMatch.capacity = undefined;
      for (let i = 0; i < 20 && r.nextRetryAt() !== undefined; i++) {
        clock.advance(r.nextRetryAt()! - clock.now());
        r.retry();
      }
      assert.deepEqual(view(maps), expected(last));
      assert.deepEqual([...affinityMembers(maps)].sort(), [...livePairs(maps)].sort(), 'converged: the members are exactly the live backends');
    }),
    { numRuns: 300 },
  );
  t.pass('300 sequences kept no stale membership pair');
});

t.test('the entries counted for socklb_map_entries are what the maps hold, for every map with a capacity', async (t) => {
  const address = fc.constantFrom('10.96.0.1', '10.96.0.2', '10.96.0.3', 'fd00::1');
  const backend = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3');
  const state = fc.uniqueArray(fc.record({ address, backends: fc.uniqueArray(backend, { maxLength: 3 }), affinity: fc.boolean() }), { selector: (s) => s.address, maxLength: 4 });
  const capacity = fc.record({
    frontends: fc.integer({ min: 0, max: 4 }),
    slots: fc.integer({ min: 0, max: 12 }),
    backends: fc.integer({ min: 0, max: 3 }),
    affinityMatch: fc.integer({ min: 0, max: 6 }),
    vips: fc.integer({ min: 0, max: 4 }),
  });
  fc.assert(
    fc.property(fc.array(fc.tuple(state, capacity), { minLength: 1, maxLength: 5 }), (steps) => {
      const maps = memoryMaps();
      const clock = testTiming();
      const r = Reconciler.adopt(maps, clock);
      const check = (): void => {
        const counted = r.mapEntries();
        assert.deepEqual(Object.keys(counted), WRITTEN_MAPS, 'the same maps as the capacities, in their order');
        assert.deepEqual(counted, Object.fromEntries(WRITTEN_MAPS.map((m) => [m, maps[m].data.size])));
      };
      for (const [s, c] of steps) {
        for (const m of WRITTEN_MAPS) maps[m].capacity = c[m];
        r.apply(s.map((x) => ({ ...svc(x.address, 80, x.backends), affinityTimeoutSeconds: x.affinity ? 30 : 0 })));
        check();
        clock.advance(50);
        r.retry();
        check();
      }
    }),
    { numRuns: 300 },
  );
  t.same(WRITTEN_MAPS, Object.keys(MAP_CAPACITY));
});
