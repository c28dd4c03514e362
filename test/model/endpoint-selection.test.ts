import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { endpointConditions, selectEndpoints, type EndpointCandidate } from '../../src/model/endpoint-selection.js';

const ep = (address: string, ready: boolean, serving = ready, terminating = false, port = 80): EndpointCandidate => ({ address, port, ready, serving, terminating });

t.test('conditions default as the API defines: ready and serving true, terminating false', async (t) => {
  t.same(endpointConditions(undefined), { ready: true, serving: true, terminating: false });
  t.same(endpointConditions({ ready: null, serving: null, terminating: null }), { ready: true, serving: true, terminating: false });
  t.same(endpointConditions({ ready: false, terminating: true }), { ready: false, serving: true, terminating: true });
  t.same(endpointConditions({ ready: 'yes' }), { ready: false, serving: true, terminating: false }, 'a non-boolean is not true');
});

t.test('ready endpoints are used; not-ready ones are not', async (t) => {
  t.same(selectEndpoints([ep('10.0.0.2', true), ep('10.0.0.1', true), ep('10.0.0.3', false)]), [
    { address: '10.0.0.1', port: 80 },
    { address: '10.0.0.2', port: 80 },
  ]);
});

t.test('with none ready, serving and terminating endpoints are used', async (t) => {
  t.same(selectEndpoints([ep('10.0.0.1', false, true, true), ep('10.0.0.2', false, false, true), ep('10.0.0.3', false, true, false)]), [{ address: '10.0.0.1', port: 80 }]);
  t.same(selectEndpoints([ep('10.0.0.1', true), ep('10.0.0.2', false, true, true)]), [{ address: '10.0.0.1', port: 80 }], 'terminating ones are not mixed in while some are ready');
  t.same(selectEndpoints([ep('10.0.0.1', false, false, false)]), [], 'nothing usable: no backends');
});

t.test('duplicates across slices collapse, the ready listing wins', async (t) => {
  t.same(selectEndpoints([ep('10.0.0.1', false), ep('10.0.0.1', true), ep('10.0.0.1', true, true, false, 81)]), [
    { address: '10.0.0.1', port: 80 },
    { address: '10.0.0.1', port: 81 },
  ]);
});

t.test('matches a plain reference implementation on random inputs', async (t) => {
  const candidate = fc.record({
    address: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', 'fd00::1'),
    port: fc.constantFrom(80, 81),
    ready: fc.boolean(),
    serving: fc.boolean(),
    terminating: fc.boolean(),
  });
  const reference = (cs: EndpointCandidate[]): string[] => {
    const keys = (pred: (c: EndpointCandidate) => boolean): Set<string> => new Set(cs.filter(pred).map((c) => `${c.address}|${c.port}`));
    const ready = keys((c) => c.ready);
    // An endpoint listed twice counts as ready if any listing says so.
    const fallback = new Set([...keys((c) => c.serving && c.terminating)].filter((k) => !cs.some((c) => `${c.address}|${c.port}` === k && c.ready)));
    const firstListing = new Map<string, EndpointCandidate>();
    for (const c of cs) if (!firstListing.has(`${c.address}|${c.port}`)) firstListing.set(`${c.address}|${c.port}`, c);
    const chosen =
      ready.size > 0
        ? ready
        : new Set(
            [...fallback].filter((k) => {
              const f = firstListing.get(k)!;
              return f.serving && f.terminating;
            }),
          );
    return [...chosen].sort((a, b) => {
      const [aa, ap] = a.split('|');
      const [ba, bp] = b.split('|');
      return aa! < ba! ? -1 : aa! > ba! ? 1 : Number(ap) - Number(bp);
    });
  };
  fc.assert(
    fc.property(fc.array(candidate, { maxLength: 8 }), (cs) => {
      assert.deepEqual(
        selectEndpoints(cs).map((b) => `${b.address}|${b.port}`),
        reference(cs),
      );
    }),
    { numRuns: 2000 },
  );
  t.pass('2,000 random candidate lists agree with the reference');
});

t.test('internalTrafficPolicy Local: this node only, never another node, with the terminating fallback', async (t) => {
  const local = { localOnly: true, topologyAware: false };
  const on = (address: string, nodeName: string, ready = true, serving = ready, terminating = false): EndpointCandidate => ({
    address,
    port: 80,
    ready,
    serving,
    terminating,
    nodeName,
  });
  const node = { name: 'n1' };
  t.same(selectEndpoints([on('10.0.0.1', 'n1'), on('10.0.0.2', 'n2')], local, node), [{ address: '10.0.0.1', port: 80 }]);
  t.same(selectEndpoints([on('10.0.0.2', 'n2')], local, node), [], 'no local endpoint: nothing, no fallback to other nodes');
  t.same(selectEndpoints([on('10.0.0.1', 'n1', false, true, true), on('10.0.0.2', 'n2')], local, node), [{ address: '10.0.0.1', port: 80 }], 'local serving+terminating');
  t.same(selectEndpoints([on('10.0.0.1', 'n1')], local, {}), [], 'without a node name nothing is local');
});

t.test('topology hints: used only when the service asks, the node has a zone, and every ready endpoint has hints', async (t) => {
  const aware = { localOnly: false, topologyAware: true };
  const z = (address: string, zones: string[] | undefined, ready = true): EndpointCandidate => ({ address, port: 80, ready, serving: ready, terminating: false, zoneHints: zones });
  const eps = [z('10.0.0.1', ['a']), z('10.0.0.2', ['b']), z('10.0.0.3', ['a', 'b'])];
  t.same(
    selectEndpoints(eps, aware, { zone: 'a' }).map((b) => b.address),
    ['10.0.0.1', '10.0.0.3'],
  );
  t.same(selectEndpoints(eps, { localOnly: false, topologyAware: false }, { zone: 'a' }).length, 3, 'not asked for');
  t.same(selectEndpoints(eps, aware, {}).length, 3, 'the node has no zone');
  t.same(selectEndpoints([...eps, z('10.0.0.4', undefined)], aware, { zone: 'a' }).length, 4, 'one ready endpoint without hints');
  t.same(selectEndpoints([...eps, z('10.0.0.4', undefined, false)], aware, { zone: 'a' }).length, 2, 'a not-ready endpoint without hints does not matter');
  t.same(selectEndpoints(eps, aware, { zone: 'c' }).length, 3, 'no endpoint for this zone');
});
