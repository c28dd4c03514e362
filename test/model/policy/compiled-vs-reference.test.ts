import fc from 'fast-check';
import t from 'tap';
import { PolicyCompiler } from '../../../src/model/policy/policy-compiler.js';
import { ClusterIndex } from '../../../src/model/policy/policy-cluster.js';
import { lookupPacket } from '../../../src/model/policy/policy-lookup.js';
import { checkTraffic } from '../../../src/model/policy/reference-evaluator.js';
import { cluster, trafficFor } from './policy-arbitraries.js';

const clusterWithFlows = cluster.chain((c) => fc.tuple(fc.constant(c), fc.array(trafficFor(c), { minLength: 100, maxLength: 150 })));

t.test('compiled tables, looked up as the datapath does, give the reference verdict on each side', async (t) => {
  let checked = 0;
  let denied = 0;
  fc.assert(
    fc.property(clusterWithFlows, ([c, flows]) => {
      const tables = new PolicyCompiler().compile(c);
      const index = new ClusterIndex(c);
      for (const flow of flows) {
        const want = checkTraffic(index, flow);
        const got = lookupPacket(tables, flow.from, flow.to, flow.protocol, flow.port);
        checked++;
        if (!want.allowed) denied++;
        if (got.egress.allowed !== want.egress.allowed || got.ingress.allowed !== want.ingress.allowed) {
          throw new Error(`${JSON.stringify(flow)}: lookup ${JSON.stringify(got)} but reference ${JSON.stringify(want)}`);
        }
        if (got.egress.lookups > 5 || got.ingress.lookups > 5) throw new Error(`more than 5 lookups in one direction: ${JSON.stringify(got)}`);
      }
    }),
    { numRuns: 2000 },
  );
  t.comment(`${checked} flows checked, ${denied} denied by the reference`);
  // The generator must produce both verdicts in quantity, or the comparison says little.
  t.ok(denied > checked / 20 && denied < checked * 0.95, `denied ${denied} of ${checked}`);
});
