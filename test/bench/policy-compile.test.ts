import t from 'tap';
import { measureCompile, syntheticPolicyCluster } from '../../src/bench/policy-compile.js';
import { PolicyCompiler } from '../../src/model/policy/policy-compiler.js';

t.test("the synthetic policy cluster has the sizes asked for, and compiles: all pods, or the local node's", async (t) => {
  const c = syntheticPolicyCluster(4, 10, 2);
  t.equal(c.pods.length, 40);
  t.equal(c.namespaces.length, 4);
  t.equal(c.policies.length, 20);
  const compiler = new PolicyCompiler();
  const all = measureCompile('all', compiler, c, {});
  t.equal(all.endpoints, 40);
  t.ok(all.policyEntries > 0 && all.cidrEntries > 0, 'selector and ipBlock rules both produce entries');
  t.equal(measureCompile('local', compiler, c, { localOnly: true }).endpoints, 20, 'half the pods on node0');
});
