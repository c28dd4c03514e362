// The bench's Calico baseline on the real kernel: the layout calicoIptables renders, loaded into
// a routed node namespace (ipset restore, iptables-nft-restore), allows and denies exactly what
// the reference evaluator says for the same policies, pod pair by pod pair; and it has Felix's
// shape (dispatch chains, one tw/fw chain per interface, policy chains, the end-of-tier drop).
import t from 'tap';
import { calicoIptables } from '../../src/bench/baselines/calico-iptables.js';
import { run } from '../../src/lab/command.js';
import { runProbe, startBackend } from '../../src/lab/lab-processes.js';
import { PodNetwork } from '../../src/lab/pod-network.js';
import { ClusterIndex, type PolicyCluster } from '../../src/model/policy/policy-cluster.js';
import { checkTraffic } from '../../src/model/policy/reference-evaluator.js';
import type { PodRow } from '../../src/model/policy-objects.js';
import { labels, policy, rule } from '../model/policy/policy-fixture.js';

t.test('Calico’s iptables layout enforces what the reference says', async (t) => {
  const net = PodNetwork.create('routed');
  t.teardown(() => net.destroy());
  const names = ['web', 'db', 'other'];
  const pods = Object.fromEntries(names.map((n) => [n, net.addPod(n)]));
  for (const n of names) await startBackend(net, n, [8080, 9090]);
  const rows: PodRow[] = names.map((n) => ({ namespace: 'ns', name: n, nodeName: 'node-a', labels: { app: n }, ips: [pods[n]!.ipv4], namedPorts: [] }));
  const cluster: PolicyCluster = {
    pods: rows,
    namespaces: [{ name: 'ns', labels: { 'kubernetes.io/metadata.name': 'ns' } }],
    policies: [
      policy('ns', 'db-from-web', { podSelector: labels({ app: 'db' }), ingress: [rule([{ podSelector: labels({ app: 'web' }) }], [{ protocol: 'TCP', port: 8080 }])] }),
      policy('ns', 'other-egress', { podSelector: labels({ app: 'other' }), types: ['Egress'], egress: [rule([{ ipBlock: { cidr: '10.244.0.0/24', except: [`${pods.web!.ipv4}/32`] } }], [{ protocol: 'TCP', port: 9000, endPort: 9100 }])] }),
    ],
  };
  const interfaces = new Map(names.map((n) => [`ns/${n}`, net.hostInterface(n)!]));
  const layout = calicoIptables(cluster, interfaces);
  t.match(layout.restore, /-A cali-to-wl-dispatch -o veth\d+ -g cali-tw-veth\d+/, 'dispatch by interface, goto the endpoint chain');
  t.match(layout.restore, /-A cali-tw-veth\d+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT/, 'conntrack first');
  t.match(layout.restore, /"Drop if no policies passed packet" -j DROP/, 'end-of-tier drop');
  t.match(layout.restore, /-A cali-pi-\S+ -m set --match-set cali40s:\S+ src -p tcp -m multiport --dports 8080 -j MARK/, 'a policy chain matches an ipset of the selected pods');
  const ns = ['netns', 'exec', net.nodeNetns];
  run('ip', [...ns, 'ipset', 'restore'], { input: layout.ipsets });
  run('ip', [...ns, 'iptables-nft-restore', '--noflush'], { input: layout.restore });

  const index = new ClusterIndex(cluster);
  for (const from of names)
    for (const to of names) {
      if (from === to) continue;
      for (const port of [8080, 9090]) {
        const want = checkTraffic(index, { from: pods[from]!.ipv4, to: pods[to]!.ipv4, protocol: 'TCP', port }).allowed;
        const got = (await runProbe(net, from, { mode: 'tcp', host: pods[to]!.ipv4, port, count: 1, timeoutMs: 500 })).ok === 1;
        t.equal(got, want, `${from} → ${to}:${port}: ${want ? 'allowed' : 'denied'}`);
      }
    }
});
