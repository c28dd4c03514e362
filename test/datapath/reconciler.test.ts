import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { backendKey, type DesiredService, type Protocol } from '../../src/model/desired-services.js';
import { FRONTEND_FLAGS, frontendKeyId } from '../../src/datapath/frontends-map.js';
import { VIP_FLAGS } from '../../src/datapath/vips-map.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { affinityMembers, desiredView, frontendsWithoutVip, lookupView, mapError, memoryMaps, type MemoryMaps } from '../helpers/memory-maps.js';

const svc = (address: string, port: number, backends: string[], protocol: Protocol = 'TCP', affinityTimeoutSeconds = 0): DesiredService => ({
  affinityTimeoutSeconds,
  frontend: { address, port, protocol },
  backends: backends.map((b) => {
    const [a, p] = b.split('|');
    return { address: a!, port: Number(p ?? 8080) };
  }),
  owner: `ns/${address}-${port}`,
});

const viewOf = (maps: MemoryMaps): Record<string, string[] | 'broken'> => Object.fromEntries(lookupView(maps));
const expected = (services: DesiredService[]): Record<string, string[]> => Object.fromEntries(desiredView(services));
const vipsOf = (maps: MemoryMaps): string[] =>
  maps.vips
    .entries()
    .map(([k]) => k.words)
    .sort();

t.test('programs new services: backends, slots, then the frontend', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  const want = [svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2']), svc('10.96.0.1', 53, ['10.0.0.1'], 'UDP'), svc('fd00::1', 80, [])];
  const report = r.apply(want);
  t.same(viewOf(maps), expected(want));
  t.match(report, { frontendsAdded: 3, frontendsUpdated: 0, backendsAdded: 2, mapOperations: 2 + 3 + 2 + 3, errors: [] }, 'backends, slots, two addresses, frontends');
  t.same(r.size, { frontends: 3, backends: 2, slots: 3, vips: 2 });
  t.same(vipsOf(maps), ['10.96.0.1', 'fd00::1'], 'one VIP entry per address, whatever its ports');
});

t.test('a service address stays while any frontend is on it and goes after the last', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  const http = svc('10.96.0.1', 80, ['10.0.0.1']);
  const dns = svc('10.96.0.1', 53, ['10.0.0.1'], 'UDP');
  r.apply([http, dns]);
  t.same(vipsOf(maps), ['10.96.0.1']);
  const before = maps.vips.writes;
  t.same(r.apply([http]).errors, []);
  t.same(vipsOf(maps), ['10.96.0.1'], 'a port removed: the address stays, its other port is live');
  r.apply([http, svc('10.96.0.1', 8080, ['10.0.0.1'])]);
  t.equal(maps.vips.writes, before, 'ports come and go on a known address without a VIP write');
  r.apply([svc('10.96.0.2', 80, ['10.0.0.1'])]);
  t.same(vipsOf(maps), ['10.96.0.2'], 'the last frontend gone: the address goes');
  t.equal(r.size.vips, 1);
});

t.test('a VIP that cannot be written fails its new frontends only; they converge later', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1'])]);
  maps.vips.failWrite = (key) => (key.words === '10.96.0.2' ? new Error('update of map slb_vips: No space left (E2BIG)') : undefined);
  const next = [svc('10.96.0.1', 80, ['10.0.0.2']), svc('10.96.0.1', 81, ['10.0.0.2']), svc('10.96.0.2', 80, ['10.0.0.2']), svc('10.96.0.2', 53, ['10.0.0.2'], 'UDP')];
  const report = r.apply(next);
  t.same(
    report.errors.map((e) => e.frontend),
    ['10.96.0.2|80|TCP', '10.96.0.2|53|UDP'],
    'both frontends on the address fail',
  );
  t.same(Object.keys(viewOf(maps)).sort(), ['10.96.0.1|80|TCP', '10.96.0.1|81|TCP'], 'and stay out of the frontends map; the rest apply');
  t.same(frontendsWithoutVip(maps), []);
  const liveIds = new Set(maps.frontends.entries().map(([, v]) => v.service_id));
  t.same(
    maps.slots.entries().filter(([k]) => !liveIds.has(k.service_id)),
    [],
    'no slot written for the failed ones is left',
  );
  maps.vips.failWrite = undefined;
  t.same(r.apply(next).errors, []);
  t.same(viewOf(maps), expected(next));
  t.same(vipsOf(maps), ['10.96.0.1', '10.96.0.2']);
});

t.test('adoption repairs the VIP map: stale addresses go, missing ones come back', async (t) => {
  const maps = memoryMaps();
  const want = [svc('10.96.0.1', 80, ['10.0.0.1']), svc('fd00::1', 80, ['fd00::a']), svc('fd00::1', 53, ['fd00::a'], 'UDP')];
  Reconciler.adopt(maps).apply(want);
  maps.vips.delete({ words: 'fd00::1' });
  maps.vips.set({ words: '10.96.0.99' }, { flags: 0 });
  t.same(frontendsWithoutVip(maps).sort(), ['fd00::1|53|UDP', 'fd00::1|80|TCP']);
  const r = Reconciler.adopt(maps);
  t.same(vipsOf(maps), ['10.96.0.1', 'fd00::1']);
  t.equal(r.size.vips, 2);
  t.match(r.apply(want), { mapOperations: 0 }, 'nothing left to write');
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1'])]);
  t.same(vipsOf(maps), ['10.96.0.1'], 'the adopted counts hold: fd00::1 went with its last port');
});

t.test('an unchanged state costs no map operation', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  const want = [svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2'])];
  r.apply(want);
  const before = maps.operations();
  t.match(r.apply([svc('10.96.0.1', 80, ['10.0.0.2', '10.0.0.1'])]), { mapOperations: 0, frontendsUpdated: 0 }, 'order of backends does not matter');
  t.equal(maps.operations(), before);
});

t.test('replacing one backend of three writes what changed and no more', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2', '10.0.0.3'])]);
  // First change: the spare generation is empty, so all three slots are written there.
  const first = r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2', '10.0.0.4'])]);
  t.match(first, { frontendsUpdated: 1, backendsAdded: 1, backendsRemoved: 1, mapOperations: 1 + 3 + 1 + 1 });
  // Second change: the spare generation holds the list from two versions ago; only differing slots are rewritten.
  const second = r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2', '10.0.0.5'])]);
  t.match(second, { backendsAdded: 1, backendsRemoved: 1, mapOperations: 1 + 1 + 1 + 1 });
  t.same(viewOf(maps), expected([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2', '10.0.0.5'])]));
});

t.test('shrinking deletes the spare slots beyond the new count', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2', '10.0.0.3'])]);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'])]);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1'])]);
  t.same(viewOf(maps), expected([svc('10.96.0.1', 80, ['10.0.0.1'])]));
  t.equal(maps.slots.data.size, 1 + 4, 'one live slot, the spare generation keeps the previous list of four');
  r.apply([]);
  t.equal(maps.slots.data.size, 0, 'removing the service removes both generations');
  t.equal(maps.backends.data.size, 0);
  t.equal(maps.frontends.data.size, 0);
});

t.test('a restarted reconciler adopts the maps: same state, zero operations; ids continue', async (t) => {
  const maps = memoryMaps();
  const want = [svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2']), svc('10.96.0.2', 80, ['10.0.0.2'])];
  Reconciler.adopt(maps).apply(want);
  Reconciler.adopt(maps).apply([...want, svc('10.96.0.3', 80, ['10.0.0.3'])]);
  const again = Reconciler.adopt(maps);
  t.match(again.apply([...want, svc('10.96.0.3', 80, ['10.0.0.3'])]), { mapOperations: 0 });
  const ids = maps.frontends.entries().map(([, v]) => v.service_id);
  t.equal(new Set(ids).size, 3, 'service ids stay unique across restarts');
  const backendIds = maps.backends.entries().map(([k]) => k.backend_id);
  t.equal(new Set(backendIds).size, 3);
});

t.test('drift is repaired: a missing slot, an orphan slot, an unreferenced backend', async (t) => {
  const maps = memoryMaps();
  const want = [svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2'])];
  Reconciler.adopt(maps).apply(want);
  const [fk, fv] = maps.frontends.entries()[0]!;
  maps.slots.delete({ service_id: fv.service_id, slot: 1, generation: fv.generation });
  maps.slots.set({ service_id: 999, slot: 0, generation: 0 }, { backend_id: 1, address: '10.0.0.1', port: 80 });
  maps.backends.set({ backend_id: 500 }, { address: '10.9.9.9', port: 1 });
  t.equal(lookupView(maps).get('10.96.0.1|80|TCP'), 'broken');
  const r = Reconciler.adopt(maps);
  t.notOk(maps.slots.get({ service_id: 999, slot: 0, generation: 0 }), 'orphan slots are removed on adoption');
  const report = r.apply(want);
  t.match(report, { frontendsUpdated: 1, backendsRemoved: 1 });
  t.same(viewOf(maps), expected(want));
  t.ok(maps.frontends.get(fk));
});

t.test('a failing service keeps its old state, the others apply, and it converges later', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1']), svc('10.96.0.2', 80, ['10.0.0.1'])]);
  const failing = maps.frontends.entries().find(([k]) => k.address === '10.96.0.1')![1].service_id;
  maps.slots.failWrite = (key) => (key.service_id === failing ? mapError('update of map slb_slots: No space left (E2BIG)', 7) : undefined);
  const next = [svc('10.96.0.1', 80, ['10.0.0.2', '10.0.0.3']), svc('10.96.0.2', 80, ['10.0.0.3'])];
  const report = r.apply(next);
  t.same(report.errors, [{ owner: 'ns/10.96.0.1-80', frontend: '10.96.0.1|80|TCP', message: 'update of map slb_slots: No space left (E2BIG)', reason: 'map_full' }]);
  t.same(viewOf(maps), { '10.96.0.1|80|TCP': ['10.0.0.1|8080'], '10.96.0.2|80|TCP': ['10.0.0.3|8080'] });
  maps.slots.failWrite = undefined;
  t.same(r.apply(next).errors, []);
  t.same(viewOf(maps), expected(next));
});

t.test('a new service that fails leaves nothing behind', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  maps.frontends.failWrite = () => new Error('full');
  const report = r.apply([svc('10.96.0.1', 80, ['10.0.0.1'])]);
  t.equal(report.errors.length, 1);
  t.equal(maps.frontends.data.size, 0);
  t.equal(maps.backends.data.size, 0, 'the backend written for it is collected');
  t.equal(maps.slots.data.size, 0, 'and the slots written for it');
  t.equal(maps.vips.data.size, 0, 'and its address');
  maps.frontends.failWrite = undefined;
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1'])]);
  t.same(viewOf(maps), expected([svc('10.96.0.1', 80, ['10.0.0.1'])]));
});

t.test('the report lists the (VIP, backend) pairs UDP frontends lost, only once they are gone from the maps', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  const pair = (vip: string, backend: string) => ({ vip, vip_port: 53, backend, backend_port: 8080 });
  const dns = (vip: string, backends: string[]) => svc(vip, 53, backends, 'UDP');
  t.same(r.apply([dns('10.96.0.1', ['10.0.0.1', '10.0.0.2']), dns('10.96.0.2', ['10.0.0.1']), svc('10.96.0.3', 53, ['10.0.0.1'])]).departedUdp, []);
  t.same(r.apply([dns('10.96.0.1', ['10.0.0.2', '10.0.0.3']), dns('10.96.0.2', ['10.0.0.1'])]).departedUdp, [pair('10.96.0.1', '10.0.0.1')], 'a backend switched away from; not the TCP service removed, not the backend other services keep');
  t.same(r.applyChanges({ upserts: [], removals: ['10.96.0.2|53|UDP'] }).departedUdp, [pair('10.96.0.2', '10.0.0.1')], 'a removed UDP frontend loses all its backends');
  maps.frontends.failWrite = () => new Error('update of map slb_frontends: injected');
  t.same(r.apply([dns('10.96.0.1', ['10.0.0.3'])]).departedUdp, [], 'a switch that failed loses nothing');
  maps.frontends.failWrite = undefined;
  t.same(r.apply([dns('10.96.0.1', ['10.0.0.3'])]).departedUdp, [pair('10.96.0.1', '10.0.0.2')]);
});

t.test('too many endpoints for one frontend is an error for that service only', async (t) => {
  const maps = memoryMaps();
  const many = Array.from({ length: 0x10000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const report = Reconciler.adopt(maps).apply([svc('10.96.0.1', 80, many), svc('10.96.0.2', 80, ['10.0.0.1'])]);
  t.match(report.errors[0]!.message, /has 65536 endpoints; socklb supports at most 65535/);
  t.same(Object.keys(viewOf(maps)), ['10.96.0.2|80|TCP']);
});

t.test('session affinity: the timeout rides on the frontend; membership pairs follow the live backends', async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2'], 'TCP', 60)]);
  const [, v] = maps.frontends.entries()[0]!;
  t.equal(v.affinity_timeout, 60);
  t.same(
    maps.affinityMatch
      .entries()
      .map(([k]) => k.backend_id)
      .sort(),
    [1, 2],
  );
  t.match(r.apply([svc('10.96.0.1', 80, ['10.0.0.1', '10.0.0.2'], 'TCP', 60)]), { mapOperations: 0 });
  r.apply([svc('10.96.0.1', 80, ['10.0.0.2', '10.0.0.3'], 'TCP', 60)]);
  t.same(
    maps.affinityMatch
      .entries()
      .map(([k]) => k.backend_id)
      .sort(),
    [2, 3],
  );
  r.apply([svc('10.96.0.1', 80, ['10.0.0.2', '10.0.0.3'], 'TCP', 0)]);
  t.equal(maps.affinityMatch.data.size, 0, 'turning affinity off removes the pairs');
  t.equal(maps.frontends.entries()[0]![1].affinity_timeout, 0);
  r.apply([svc('10.96.0.1', 80, ['10.0.0.2'], 'TCP', 5)]);
  maps.affinityMatch.set({ service_id: 77, backend_id: 1 }, { present: 1 });
  maps.affinityMatch.delete({ service_id: maps.frontends.entries()[0]![1].service_id, backend_id: 2 });
  Reconciler.adopt(maps);
  t.same(
    maps.affinityMatch.entries().map(([k]) => k.backend_id),
    [2],
    'adoption repairs missing and stale pairs',
  );
  Reconciler.adopt(maps).apply([]);
  t.equal(maps.affinityMatch.data.size, 0, 'removing the service removes its pairs');
});

t.test('at every single map operation, each lookup sees a whole old or a whole new list', async (t) => {
  const frontends = ['10.96.0.1|80|TCP', '10.96.0.1|53|UDP', 'fd00::1|80|TCP', '10.96.0.2|80|TCP'];
  const backends = ['10.0.0.1|80', '10.0.0.2|80', '10.0.0.3|81', 'fd00::a|80', 'fd00::b|80', '10.0.0.4|80'];
  const stateArb = fc.array(fc.tuple(fc.constantFrom(...frontends), fc.subarray(backends), fc.constantFrom(0, 0, 30)), { maxLength: 4 }).map((entries) => {
    const m = new Map(entries.map(([f, bs, aff]) => [f, [bs, aff] as const]));
    return [...m].map(([f, [bs, aff]]) => {
      const [address, port, protocol] = f.split('|');
      return svc(address!, Number(port), bs, protocol as Protocol, aff);
    });
  });
  const members = affinityMembers;
  let steps = 0;
  fc.assert(
    fc.property(fc.array(stateArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (states, restartBetween) => {
      const maps = memoryMaps();
      let r = Reconciler.adopt(maps);
      let before = desiredView([]);
      for (const state of states) {
        const after = desiredView(state);
        maps.onEveryOp(() => {
          steps++;
          for (const [id, seen] of lookupView(maps)) {
            assert.notEqual(seen, 'broken', `${id} is broken mid-update`);
            const ok = [before.get(id), after.get(id)].some((l) => l !== undefined && JSON.stringify(l) === JSON.stringify(seen));
            assert.ok(ok, `${id} shows ${JSON.stringify(seen)}: neither the old ${JSON.stringify(before.get(id))} nor the new ${JSON.stringify(after.get(id))}`);
            // The programs look the address up first: a live frontend without it is unreachable.
            assert.deepEqual(frontendsWithoutVip(maps), [], 'a live frontend whose address is not in the VIP map');
            // A service with affinity reuses a remembered backend only if it is a member:
            // every live backend must be one, so no client is sent elsewhere by mistake.
            const [f] = maps.frontends.entries().filter(([k]) => frontendKeyId(k) === id);
            if (f && f[1].affinity_timeout > 0) for (const b of seen as string[]) assert.ok(members(maps).has(`${id} -> ${b}`), `${id}: live backend ${b} is no affinity member`);
          }
        });
        const report = r.apply(state);
        maps.onEveryOp(undefined);
        assert.deepEqual(report.errors, []);
        assert.deepEqual(lookupView(maps), after);
        // No backend entry outlives its last live reference.
        const live = new Set([...after.values()].flat());
        assert.equal(maps.backends.data.size, live.size);
        // Membership pairs are exactly the live backends of services with affinity.
        const wantMembers = new Set(
          state
            .filter((s) => s.affinityTimeoutSeconds)
            .flatMap((s) => s.backends.map((b) => `${s.frontend.address}|${s.frontend.port}|${s.frontend.protocol} -> ${b.address}|${b.port}`)),
        );
        assert.deepEqual(members(maps), wantMembers);
        assert.equal(maps.affinityMatch.data.size, wantMembers.size, 'no stale membership pair');
        // The VIP map holds exactly the addresses with a frontend.
        assert.deepEqual(vipsOf(maps), [...new Set(state.map((s) => s.frontend.address))].sort());
        before = after;
        if (restartBetween) r = Reconciler.adopt(maps);
      }
    }),
    { numRuns: 400 },
  );
  t.pass(`400 random update sequences, ${steps} intermediate states checked`);
});

t.test("an address's other ports: refused while a cluster IP frontend is on it, passed while only north-south ones are", async (t) => {
  const maps = memoryMaps();
  const r = Reconciler.adopt(maps);
  const external = (s: DesiredService): DesiredService => ({ ...s, reach: 'external' });
  const flags = (address: string): number | undefined => maps.vips.get({ words: address })?.flags;
  // Never, at any operation of a sync, may a node's address refuse its other ports.
  const seen: (number | undefined)[] = [];
  maps.onEveryOp(() => void seen.push(flags('10.0.0.100')));
  const nodePort = external(svc('10.0.0.100', 30080, ['10.0.0.1']));
  r.apply([nodePort]);
  maps.onEveryOp(undefined);
  t.same([...new Set(seen)], [undefined, VIP_FLAGS.otherPortsPass], 'written passing before its frontend goes live');
  t.same(viewOf(maps), expected([nodePort]));
  t.equal(maps.frontends.entries()[0]![1].flags, FRONTEND_FLAGS.external, 'the frontend records its reach');

  const cluster = svc('10.0.0.100', 80, ['10.0.0.2']);
  r.apply([nodePort, cluster]);
  t.equal(flags('10.0.0.100'), 0, 'a cluster IP frontend on the address: its other ports are refused');
  r.apply([nodePort]);
  t.equal(flags('10.0.0.100'), VIP_FLAGS.otherPortsPass, 'and passed again once it left');
  r.apply([{ ...nodePort, reach: undefined }]);
  t.equal(flags('10.0.0.100'), 0, 'a frontend that becomes a cluster IP one');
  r.apply([nodePort]);
  t.equal(flags('10.0.0.100'), VIP_FLAGS.otherPortsPass, 'and back');

  maps.vips.set({ words: '10.0.0.100' }, { flags: 0 });
  Reconciler.adopt(maps);
  t.equal(flags('10.0.0.100'), VIP_FLAGS.otherPortsPass, 'adoption repairs the flags from the frontends');
  r.apply([]);
  t.same(vipsOf(maps), [], 'the address goes with its last frontend');
});
