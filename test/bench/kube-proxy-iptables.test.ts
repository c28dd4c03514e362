// The iptables baseline against kube-proxy's own layout: names (checked with vectors from
// kube-proxy's tests), the statistic cascade, DNAT and masquerade rules, REJECT for no endpoints.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { endpointChain, serviceChain } from '../../src/bench/baselines/kube-proxy-chains.js';
import { kubeProxyIptables, probability } from '../../src/bench/baselines/kube-proxy-iptables.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { LabRun } from '../../src/lab/lab-run.js';

const svc = (owner: string, address: string, port: number, backends: string[], protocol: 'TCP' | 'UDP' = 'TCP'): DesiredService => ({
  owner,
  frontend: { address, port, protocol },
  backends: backends.map((b) => ({ address: b, port: 8080 })),
});

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
  const r = kubeProxyIptables([...many, svc('ns/none', '10.96.9.9', 80, [])], 4, { clusterCidr: '10.244.0.0/16' });
  execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore', '--noflush'], { input: r.restore });
  const saved = execFileSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
  t.equal(saved.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES')).length, 201, 'every service jump is loaded');
  t.equal(saved.split('\n').filter((l) => l.includes('-j DNAT')).length, 400);
});
