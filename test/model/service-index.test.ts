import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { frontendId, type DesiredService } from '../../src/model/desired-services.js';
import { desiredServices, ServiceIndex } from '../../src/model/service-index.js';
import { formatProblem } from '../../src/model/problems.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';
import { appliedDeltas } from './applied-deltas.js';

const asMap = (list: DesiredService[]): Map<string, DesiredService> => new Map(list.map((s) => [frontendId(s.frontend), s]));

t.test('flush returns only what changed', async (t) => {
  const index = new ServiceIndex();
  index.upsertService(service('ns', 'a', ['10.96.0.1'], [{ port: 80 }]));
  index.upsertSlice(endpointSlice('ns', 'a-1', 'a', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  index.upsertService(service('ns', 'b', ['10.96.0.2'], [{ port: 80 }]));
  t.same(
    index
      .flush()
      .upserts.map((s) => s.owner)
      .sort(),
    ['ns/a', 'ns/b'],
  );
  t.same(index.flush(), { upserts: [], removals: [] }, 'nothing new');
  index.upsertSlice(endpointSlice('ns', 'a-1', 'a', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  t.same(index.flush(), { upserts: [], removals: [] }, 'an identical update changes nothing');
  index.upsertSlice(endpointSlice('ns', 'a-1', 'a', 'IPv4', [{ port: 80 }], ['10.0.0.2']));
  const d = index.flush();
  t.same(
    d.upserts.map((s) => s.backends),
    [[{ address: '10.0.0.2', port: 80 }]],
  );
  index.deleteService('ns', 'b');
  t.same(index.flush(), { upserts: [], removals: ['10.96.0.2|80|TCP'] });
  index.upsertService(service('ns', 'a', ['10.96.0.1'], [{ port: 81 }]));
  t.same(index.flush().removals, ['10.96.0.1|80|TCP'], 'a changed port removes the old frontend');
  t.same(index.size, { services: 1, slices: 1 });
});

t.test('a slice relabelled to another service moves its endpoints', async (t) => {
  const index = new ServiceIndex();
  index.upsertService(service('ns', 'a', ['10.96.0.1'], [{ port: 80 }]));
  index.upsertService(service('ns', 'b', ['10.96.0.2'], [{ port: 80 }]));
  index.upsertSlice(endpointSlice('ns', 's', 'a', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  index.flush();
  index.upsertSlice(endpointSlice('ns', 's', 'b', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  const d = asMap(index.flush().upserts);
  t.same(d.get('10.96.0.1|80|TCP')?.backends, []);
  t.same(d.get('10.96.0.2|80|TCP')?.backends, [{ address: '10.0.0.1', port: 80 }]);
  index.deleteSlice('ns', 's');
  t.same(asMap(index.flush().upserts).get('10.96.0.2|80|TCP')?.backends, []);
});

t.test('a VIP conflict: the holder keeps it; when it lets go, the waiting service takes it', async (t) => {
  const index = new ServiceIndex();
  index.upsertService(service('ns', 'a', ['10.96.0.1'], [{ port: 80 }]));
  index.upsertService(service('ns', 'b', ['10.96.0.1'], [{ port: 80 }, { port: 81 }]));
  t.same(
    index
      .flush()
      .upserts.map((s) => `${s.owner} ${s.frontend.port}`)
      .sort(),
    ['ns/a 80', 'ns/b 81'],
  );
  t.match(index.problems().map(formatProblem), [/^Service ns\/b: spec.clusterIPs\[0\]: 10.96.0.1 port 80\/TCP is already served for Service ns\/a/]);
  index.deleteService('ns', 'a');
  const d = index.flush();
  t.same(d.removals, [], 'the frontend is not removed: b takes it over');
  t.same(
    d.upserts.map((s) => s.owner),
    ['ns/b'],
  );
  t.same(index.problems(), []);
});

t.test('node changes reselect Local services', async (t) => {
  const index = new ServiceIndex({ name: 'n1' });
  const svc = service('ns', 'l', ['10.96.0.1'], [{ port: 80 }]);
  (svc.spec as Record<string, unknown>).internalTrafficPolicy = 'Local';
  const slice = endpointSlice('ns', 'l-1', 'l', 'IPv4', [{ port: 80 }], ['10.0.0.1', '10.0.0.2']);
  (slice.endpoints as Record<string, unknown>[])[0]!.nodeName = 'n1';
  (slice.endpoints as Record<string, unknown>[])[1]!.nodeName = 'n2';
  index.upsertService(svc);
  index.upsertSlice(slice);
  t.same(index.flush().upserts[0]!.backends, [{ address: '10.0.0.1', port: 80 }]);
  index.setNode({ name: 'n1' });
  t.same(index.flush(), { upserts: [], removals: [] }, 'the same node is no change');
  index.setNode({ name: 'n2' });
  t.same(index.flush().upserts[0]!.backends, [{ address: '10.0.0.2', port: 80 }]);
});

t.test('any sequence of events ends where a fresh computation over the final objects does', async (t) => {
  const names = ['a', 'b', 'c', 'd'];
  const event = fc.oneof(
    fc.record({ kind: fc.constant('svc' as const), name: fc.constantFrom(...names), ip: fc.constantFrom(1, 2, 3, 4, 5), port: fc.constantFrom(80, 81) }),
    fc.record({
      kind: fc.constant('slice' as const),
      name: fc.constantFrom(...names),
      slice: fc.constantFrom('1', '2'),
      eps: fc.subarray(['10.0.0.1', '10.0.0.2', '10.0.0.3']),
      ready: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('delsvc' as const), name: fc.constantFrom(...names) }),
    fc.record({ kind: fc.constant('delslice' as const), name: fc.constantFrom(...names), slice: fc.constantFrom('1', '2') }),
    fc.constant({ kind: 'flush' as const }),
  );
  fc.assert(
    fc.property(fc.array(event, { maxLength: 30 }), (events) => {
      const index = new ServiceIndex();
      const services = new Map<string, Record<string, unknown>>();
      const slices = new Map<string, Record<string, unknown>>();
      const { applied, flush } = appliedDeltas(index);
      for (const e of events) {
        if (e.kind === 'svc') {
          const s = service('ns', e.name, [`10.96.0.${e.ip}`], [{ port: e.port }]);
          services.set(e.name, s);
          index.upsertService(s);
        } else if (e.kind === 'slice') {
          const s = endpointSlice(
            'ns',
            `${e.name}-${e.slice}`,
            e.name,
            'IPv4',
            [{ port: 8080 }],
            e.eps.map((address) => ({ address, ready: e.ready, serving: true, terminating: !e.ready })),
          );
          slices.set(`${e.name}-${e.slice}`, s);
          index.upsertSlice(s);
        } else if (e.kind === 'delsvc') {
          services.delete(e.name);
          index.deleteService('ns', e.name);
        } else if (e.kind === 'delslice') {
          slices.delete(`${e.name}-${e.slice}`);
          index.deleteSlice('ns', `${e.name}-${e.slice}`);
        } else flush();
      }
      flush();
      const fresh = asMap(desiredServices([...services.values()], [...slices.values()]).services);
      // Which of two services sharing a VIP wins depends on arrival order; compare the rest.
      const owners = (m: Map<string, DesiredService>): string[] => [...m.keys()].sort();
      assert.deepEqual(owners(applied), owners(fresh));
      assert.deepEqual(owners(asMap(index.desired())), owners(fresh));
      for (const [fid, s] of fresh) {
        const mine = applied.get(fid)!;
        const contested =
          [...services.values()].filter(
            (x) => (x.spec as { clusterIP: string }).clusterIP === s.frontend.address && (x.spec as { ports: { port: number }[] }).ports[0]!.port === s.frontend.port,
          ).length > 1;
        if (!contested) assert.deepEqual(mine, s);
      }
    }),
    { numRuns: 1500 },
  );
  t.pass('1,500 random event sequences');
});

t.test('two services each holding a VIP the other waits for: the flush ends, each keeps what it holds', async (t) => {
  const index = new ServiceIndex();
  index.upsertService(service('ns', 'b', ['10.96.0.2'], [{ port: 80 }]));
  index.flush();
  index.upsertService(service('ns', 'a', ['10.96.0.1', '10.96.0.2'], [{ port: 80 }]));
  index.flush();
  // b now wants 10.96.0.1 (held by a) while a waits for 10.96.0.2 (held by b).
  index.upsertService(service('ns', 'b', ['10.96.0.1', '10.96.0.2'], [{ port: 80 }]));
  t.same(index.flush(), { upserts: [], removals: [] });
  t.same(
    index
      .desired()
      .map((s) => `${s.frontend.address} ${s.owner}`)
      .sort(),
    ['10.96.0.1 ns/a', '10.96.0.2 ns/b'],
  );
  index.deleteService('ns', 'a');
  t.same(
    index.flush().upserts.map((s) => `${s.frontend.address} ${s.owner}`),
    ['10.96.0.1 ns/b'],
  );
});
