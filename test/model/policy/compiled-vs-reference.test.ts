import fc from 'fast-check';
import t from 'tap';
import { PolicyCompiler, type PeerIdentity } from '../../../src/model/policy/policy-compiler.js';
import { ClusterIndex } from '../../../src/model/policy/policy-cluster.js';
import { lookupPacket, type DirectionLookup } from '../../../src/model/policy/policy-lookup.js';
import { checkTraffic, type SideVerdict } from '../../../src/model/policy/reference-evaluator.js';
import { cluster, trafficFor } from './policy-arbitraries.js';

// A cluster compiled before the one under test, by the same compiler: the tested tables are a
// recompute with ids and classes already allocated, and some released, as in the agent.
const scenario = fc.tuple(cluster, cluster).chain(([before, c]) => fc.tuple(fc.constant(before), fc.constant(c), fc.array(trafficFor(c), { minLength: 60, maxLength: 100 })));

function same(side: string, flow: object, got: DirectionLookup, want: SideVerdict): void {
  if (got.allowed !== want.allowed) throw new Error(`${side} of ${JSON.stringify(flow)}: lookup ${JSON.stringify(got)} but reference ${JSON.stringify(want)}`);
  if (got.lookups > 5) throw new Error(`${side} of ${JSON.stringify(flow)}: ${got.lookups} lookups, the datapath makes at most 5`);
}

t.test('compiled tables, looked up as the datapath does, give the reference verdict on each side', async (t) => {
  const why = new Map<string, number>();
  let checked = 0;
  let denied = 0;
  fc.assert(
    fc.property(scenario, ([before, c, flows]) => {
      const compiler = new PolicyCompiler();
      compiler.compile(before);
      const tables = compiler.compile(c);
      const local = new PolicyCompiler().compile(c, { localOnly: true });
      const index = new ClusterIndex(c);
      for (const flow of flows) {
        const want = checkTraffic(index, flow);
        const got = lookupPacket(tables, flow.from, flow.to, flow.protocol, flow.port);
        same('egress', flow, got.egress, want.egress);
        same('ingress', flow, got.ingress, want.ingress);
        // The datapath's tables hold the local node's pods only; for them the answer is the same.
        const onNode = lookupPacket(local, flow.from, flow.to, flow.protocol, flow.port);
        for (const [side, ip, g] of [['egress', flow.from, onNode.egress] as const, ['ingress', flow.to, onNode.ingress] as const]) {
          const pod = index.podsByIp.get(ip);
          if (pod && index.isOnLocalNode(pod)) same(`${side} (local tables)`, flow, g, want[side]);
          else if (g.why !== 'not-an-endpoint') throw new Error(`${side} of ${JSON.stringify(flow)}: ${ip} is no local pod, yet the local tables answer ${g.why}`);
        }
        checked++;
        if (!want.allowed) denied++;
        for (const g of [got.egress, got.ingress]) why.set(g.why, (why.get(g.why) ?? 0) + 1);
      }
    }),
    { numRuns: 2000 },
  );
  t.comment(`${checked} flows checked, ${denied} denied by the reference; sides by what decided: ${JSON.stringify(Object.fromEntries(why))}`);
  // The generator must produce every kind of verdict in quantity, or the comparison says little.
  t.ok(denied > checked / 20 && denied < checked * 0.95, `denied ${denied} of ${checked}`);
  for (const w of ['not-an-endpoint', 'not-isolated', 'loopback', 'own-node', 'identity', 'cidr', 'denied'])
    t.ok((why.get(w) ?? 0) > checked / 500, `${w}: ${why.get(w) ?? 0} sides`);
});

t.test('a recompute keeps the id of every identity and CIDR class still in use', async () => {
  fc.assert(
    fc.property(cluster, cluster, (a, b) => {
      const compiler = new PolicyCompiler();
      const first = compiler.compile(a);
      const second = compiler.compile(b);
      // Labels are compared in key order: the compiler's identity does not depend on it.
      const key = (i: PeerIdentity): string => JSON.stringify([i.namespace, Object.entries(i.labels).sort(), i.namedPorts]);
      const before = new Map([...first.identities.values()].map((i) => [key(i), i.id]));
      for (const i of second.identities.values()) {
        const old = before.get(key(i));
        if (old !== undefined && old !== i.id) throw new Error(`identity ${key(i)} was ${old}, is ${i.id}`);
      }
      const classes = new Map([...first.cidrClasses].map(([id, set]) => [JSON.stringify(set), id]));
      for (const [id, set] of second.cidrClasses) {
        const old = classes.get(JSON.stringify(set));
        if (old !== undefined && old !== id) throw new Error(`CIDR class ${JSON.stringify(set)} was ${old}, is ${id}`);
      }
    }),
    { numRuns: 1000 },
  );
});
