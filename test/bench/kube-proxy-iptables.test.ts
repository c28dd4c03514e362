// The iptables baseline against kube-proxy's own layout: names (checked with vectors from
// kube-proxy's tests), the statistic cascade, DNAT and masquerade rules, REJECT for no endpoints,
// and north-south frontends as NodePorts and external IPs through KUBE-EXT-* (eTP Cluster).
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { endpointChain, externalChain, serviceChain } from '../../src/bench/baselines/kube-proxy-chains.js';
import { kubeProxyIptables, probability } from '../../src/bench/baselines/kube-proxy-iptables.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { LabRun } from '../../src/lab/lab-run.js';

const svc = (owner: string, address: string, port: number, backends: string[], protocol: 'TCP' | 'UDP' = 'TCP'): DesiredService => ({
  owner,
  frontend: { address, port, protocol },
  backends: backends.map((b) => ({ address: b, port: 8080 })),
});
/** A north-south frontend of the same service port, as the model lists it. */
const external = (s: DesiredService, address: string, port: number): DesiredService => ({ ...s, frontend: { ...s.frontend, address, port }, reach: 'external' });

t.test("chain names are kube-proxy's", async (t) => {
  // From kubernetes/pkg/proxy/iptables/proxier_test.go: ns1/svc1:p80 with endpoint 10.180.0.1:80.
  t.equal(serviceChain('ns1/svc1:p80', 'TCP'), 'KUBE-SVC-XPGD46QRK7WJZT7O');
  t.equal(endpointChain('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
  t.equal(serviceChain('ns1/svc1:p80', 'TCP').length, 25, "within iptables' 28-character limit");
});

t.test('probabilities are printed as kube-proxy prints them', async (t) => {
  t.same([3, 2].map(probability), ['0.3333333333', '0.5000000000']);
});

t.test('one jump per service port, the cascade, DNAT and masquerade', async (t) => {
  const r = kubeProxyIptables(
    [
      svc('ns/web:http', '10.96.0.10', 80, ['10.244.0.1', '10.244.0.2', '10.244.0.3']),
      svc('ns/dns:dns', '10.96.0.11', 53, ['10.244.0.4'], 'UDP'),
      svc('ns/v6', 'fd00::1', 80, ['fd00::a']),
    ],
    4,
    { clusterCidr: '10.244.0.0/16' },
  );
  const lines = r.restore.split('\n');
  const svcChain = serviceChain('ns/web:http', 'tcp');
  t.equal(r.serviceRules, 3, 'two services and the NODEPORTS jump; the IPv6 one is not in iptables');
  t.ok(lines.includes(`-A KUBE-SERVICES -m comment --comment "ns/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 -j ${svcChain}`));
  const cascade = lines.filter((l) => l.startsWith(`-A ${svcChain}`) && l.includes('KUBE-SEP'));
  t.same(
    cascade.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'last'),
    ['0.3333333333', '0.5000000000', 'last'],
    'the statistic cascade ends with an unconditional jump',
  );
  t.ok(lines.includes(`-A ${svcChain} -m comment --comment "ns/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`));
  const sep = endpointChain('ns/web:http', 'tcp', '10.244.0.1:8080');
  t.ok(lines.includes(`-A ${sep} -m comment --comment ns/web:http -s 10.244.0.1/32 -j KUBE-MARK-MASQ`), 'hairpin masquerade');
  t.ok(lines.includes(`-A ${sep} -m comment --comment ns/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.0.1:8080`));
  t.match(lines.filter((l) => l.startsWith('-A KUBE-SERVICES')).pop(), /KUBE-NODEPORTS$/, 'NODEPORTS stays last');
  t.ok(lines.indexOf(':KUBE-SERVICES - [0:0]') < lines.findIndex((l) => l.startsWith('-A KUBE-SERVICES')), 'chains are declared before use');
});

t.test('NodePorts and external IPs: KUBE-NODEPORTS and KUBE-SERVICES jump to KUBE-EXT, which masquerades and goes on to KUBE-SVC', async (t) => {
  // From kubernetes/pkg/proxy/iptables/proxier_test.go (TestOverallIPTablesRules): ns2/svc2:p80.
  t.equal(externalChain('ns2/svc2:p80', 'TCP'), 'KUBE-EXT-GNZBNJ2PO5MGZ6GT');
  const web = svc('ns2/svc2:p80', '172.30.0.42', 80, ['10.180.0.2']);
  const nodes = ['198.18.0.1', '198.18.1.1'];
  const r = kubeProxyIptables([external(web, nodes[0]!, 3001), web, external(web, nodes[1]!, 3001), external(web, '192.168.99.22', 80)], 4, { clusterCidr: '10.0.0.0/8', nodeAddresses: nodes });
  const lines = r.restore.split('\n');
  const ext = 'KUBE-EXT-GNZBNJ2PO5MGZ6GT';
  const svcChain = 'KUBE-SVC-GNZBNJ2PO5MGZ6GT';
  // kube-proxy's own lines for this service, as its test expects them.
  const expected = [
    `-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j ${ext}`,
    `-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42/32 --dport 80 -j ${svcChain}`,
    `-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22/32 --dport 80 -j ${ext}`,
    `-A ${ext} -m comment --comment "masquerade traffic for ns2/svc2:p80 external destinations" -j KUBE-MARK-MASQ`,
    `-A ${ext} -j ${svcChain}`,
    `-A ${svcChain} -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42/32 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`,
    `-A ${svcChain} -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:8080" -j ${endpointChain('ns2/svc2:p80', 'tcp', '10.180.0.2:8080')}`,
  ];
  for (const line of expected) t.ok(lines.includes(line), line);
  t.equal(lines.filter((l) => l.startsWith('-A KUBE-NODEPORTS')).length, 1, 'one NodePort rule, by port: it serves every local address');
  t.equal(lines.filter((l) => l === `:${svcChain} - [0:0]`).length, 1, 'the cluster IP and the external destinations share one service chain');
  t.ok(lines.indexOf(`-A ${svcChain} -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42/32 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`) < lines.findIndex((l) => l.startsWith(`-A ${svcChain}`) && l.includes('KUBE-SEP')), "the cluster IP's masquerade rule comes before the endpoint jumps, whatever the order of the frontends");
  t.equal(r.serviceRules, 3, 'cluster IP, external IP and the NODEPORTS jump');
  t.match(lines.filter((l) => l.startsWith('-A KUBE-SERVICES')).pop(), /KUBE-NODEPORTS$/, 'NODEPORTS stays last');
  t.throws(() => kubeProxyIptables([{ ...external(web, nodes[0]!, 3001), externalPolicyLocal: true }], 4, { nodeAddresses: nodes }), /externalTrafficPolicy Local/);
});

t.test('a NodePort without endpoints is rejected in KUBE-EXTERNAL-SERVICES', async (t) => {
  const none = svc('ns/none:http', '10.96.0.13', 80, []);
  const r = kubeProxyIptables([none, external(none, '198.18.0.1', 30090), external(none, '203.0.113.5', 80)], 4, { nodeAddresses: ['198.18.0.1'] });
  const lines = r.restore.split('\n');
  t.ok(lines.includes(':KUBE-EXTERNAL-SERVICES - [0:0]'));
  t.ok(lines.includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/none:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30090 -j REJECT'));
  t.ok(lines.includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/none:http has no endpoints" -m tcp -p tcp -d 203.0.113.5/32 --dport 80 -j REJECT'));
  t.notMatch(r.restore, /KUBE-EXT-|KUBE-SVC-/);
});

t.test('no endpoints: REJECT in the filter table, nothing in nat', async (t) => {
  const r = kubeProxyIptables([svc('ns/empty', '10.96.0.12', 80, [])], 4);
  t.match(
    r.restore,
    /\*filter\n:KUBE-SERVICES - \[0:0\]\n-A KUBE-SERVICES -m comment --comment "ns\/empty has no endpoints" -m tcp -p tcp -d 10.96.0.12\/32 --dport 80 -j REJECT\nCOMMIT/,
  );
  t.notMatch(r.restore, /KUBE-SVC-/);
});

t.test('iptables-restore accepts the rule set (in a namespace of its own)', async (t) => {
  const run = LabRun.begin();
  const ns = `${run.netnsPrefix}fw`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    execFileSync('ip', ['netns', 'del', ns]);
    run.end();
  });
  const many = Array.from({ length: 200 }, (_, i) => svc(`ns/s${i}:http`, `10.96.${i >> 8}.${i & 255}`, 80, ['10.244.0.1', '10.244.0.2']));
  const nodePort = svc('ns/np:http', '10.96.9.10', 80, ['10.244.0.3']);
  const none = svc('ns/none', '10.96.9.9', 80, []);
  const r = kubeProxyIptables([...many, none, external(none, '198.18.0.1', 30091), nodePort, external(nodePort, '198.18.0.1', 30090), external(nodePort, '203.0.113.5', 80)], 4, {
    clusterCidr: '10.244.0.0/16',
    nodeAddresses: ['198.18.0.1'],
  });
  execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore', '--noflush'], { input: r.restore });
  const saved = execFileSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
  t.equal(saved.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES')).length, 203, 'every service jump is loaded');
  t.equal(saved.split('\n').filter((l) => l.includes('-j DNAT')).length, 401);
  t.equal(saved.split('\n').filter((l) => l.startsWith('-A KUBE-NODEPORTS')).length, 1, 'the NodePort');
  t.equal(saved.split('\n').filter((l) => l.startsWith('-A KUBE-EXT-')).length, 2, 'its external chain');
});
