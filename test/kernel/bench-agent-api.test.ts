// A small run of the end-to-end agent benchmark: the real agent process fed over list/watch.
import t from 'tap';
import { benchAgentOverApi } from '../../src/bench/agent-over-api.js';

t.test('agent over the API: programs everything, times changes, reports RSS', async (t) => {
  const printed: string[] = [];
  const r = await benchAgentOverApi({ services: 30, endpoints: 3, changes: 5, pods: 40, policies: 6, namespaces: 3, idleMs: 100 }, (line) => printed.push(line));
  const latencies = printed.find((l) => l.startsWith('one endpoint change'));
  t.match(latencies, /p50 [\d,]+\.\d ms, p99 [\d,]+\.\d ms, max [\d,]+\.\d ms over 5/, `latencies printed with one decimal: ${latencies}`);
  t.same(r.programmed, { frontends: 30, backends: 90 }, 'every service and endpoint is in the maps when the agent says it is ready');
  t.same(r.stored, { pods: 40, namespaces: 3, networkPolicies: 6 }, 'and every pod, namespace and policy is in its store');
  t.match(printed[0], /^30 services x 3 endpoints and 40 pods, 6 NetworkPolicies over 3 namespaces: in the maps/);
  t.type(r.listsToMapsMs, 'number', `lists to maps in ${r.listsToMapsMs} ms (a measurement, not asserted)`);
  t.equal(r.changeMs.samples, 5);
  t.ok(r.agentRssMb > 20, `agent RSS ${r.agentRssMb.toFixed(0)} MB`);
});
