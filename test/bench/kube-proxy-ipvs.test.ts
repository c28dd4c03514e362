// The IPVS baseline: kube-proxy's IPVS-mode state for ClusterIP services (kube-ipvs0 addresses,
// virtual and real servers, ipsets, the few iptables rules) from pkg/proxy/ipvs/proxier.go, and
// the availability check that keeps the bench from reporting a number this kernel cannot give.
import t from 'tap';
import { ipsetName, kubeProxyIpvs } from '../../src/bench/baselines/kube-proxy-ipvs.js';
import { installIpvsMode, ipvsAvailability, ipvsAvailabilityFrom, probeIpvs } from '../../src/bench/baselines/ipvs-node.js';
import type { DesiredService } from '../../src/model/desired-services.js';

const svc = (owner: string, address: string, port: number, backends: string[], protocol: 'TCP' | 'UDP' = 'TCP'): DesiredService => ({
  owner,
  frontend: { address, port, protocol },
  backends: backends.map((b) => ({ address: b, port: 8080 })),
});

const SERVICES = [
  svc('ns/web:http', '10.96.0.10', 80, ['10.244.0.11', '10.244.0.12']),
  svc('ns/web:udp', '10.96.0.10', 80, ['10.244.0.11'], 'UDP'),
  svc('ns/empty:http', '10.96.0.12', 80, []),
  svc('ns/v6:http', 'fd00:96::10', 80, ['fd00:244::a']),
];

t.test('virtual servers round robin, real servers masquerading with weight 1; every VIP on kube-ipvs0', async (t) => {
  const s = kubeProxyIpvs(SERVICES, 4, { clusterCidr: '10.244.0.0/16' });
  t.same(s.ipvsadm.trim().split('\n'), [
    '-A -t 10.96.0.10:80 -s rr',
    '-a -t 10.96.0.10:80 -r 10.244.0.11:8080 -m -w 1',
    '-a -t 10.96.0.10:80 -r 10.244.0.12:8080 -m -w 1',
    '-A -u 10.96.0.10:80 -s rr',
    '-a -u 10.96.0.10:80 -r 10.244.0.11:8080 -m -w 1',
    '-A -t 10.96.0.12:80 -s rr',
  ]);
  t.same(s.addresses, ['10.96.0.10/32', '10.96.0.12/32'], 'each cluster IP once, as /32; a service without endpoints is bound too');
  t.equal(s.virtualServers, 3);
  const v6 = kubeProxyIpvs(SERVICES, 6);
  t.same(v6.ipvsadm.trim().split('\n'), ['-A -t [fd00:96::10]:80 -s rr', '-a -t [fd00:96::10]:80 -r [fd00:244::a]:8080 -m -w 1']);
  t.same(v6.addresses, ['fd00:96::10/128']);
});

t.test("ipsets: kube-proxy's sets, ClusterIP and hairpin entries", async (t) => {
  const lines = kubeProxyIpvs(SERVICES, 4).ipset.trim().split('\n');
  t.equal(lines.filter((l) => l.startsWith('create ')).length, 17, 'every set in ipsetInfo');
  t.ok(lines.includes('create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 -exist'));
  t.ok(lines.includes('create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 -exist'));
  t.ok(lines.includes('create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 -exist'));
  t.same(
    lines.filter((l) => l.startsWith('add KUBE-CLUSTER-IP ')),
    ['add KUBE-CLUSTER-IP 10.96.0.10,tcp:80 -exist', 'add KUBE-CLUSTER-IP 10.96.0.10,udp:80 -exist', 'add KUBE-CLUSTER-IP 10.96.0.12,tcp:80 -exist'],
  );
  t.ok(lines.includes('add KUBE-LOOP-BACK 10.244.0.12,tcp:8080,10.244.0.12 -exist'), 'an endpoint reaching itself is masqueraded');
  t.same(
    lines.filter((l) => l.startsWith('add KUBE-IPVS-IPS ')),
    ['add KUBE-IPVS-IPS 10.96.0.10 -exist', 'add KUBE-IPVS-IPS 10.96.0.12 -exist'],
  );
  t.equal(ipsetName('KUBE-LOAD-BALANCER-SOURCE-CIDR', 6), 'KUBE-6-LOAD-BALANCER-SOURCE-CIDR'.slice(0, 31), 'IPv6 names are KUBE-6-, cut to 31 characters');
  t.match(kubeProxyIpvs(SERVICES, 6).ipset, /create KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536 -exist\n/);
});

t.test('iptables: the same few rules whatever the number of services', async (t) => {
  const s = kubeProxyIpvs(SERVICES, 4, { clusterCidr: '10.244.0.0/16' });
  const lines = s.iptables.split('\n');
  const kubeServices = lines.filter((l) => l.startsWith('-A KUBE-SERVICES'));
  t.same(kubeServices, [
    '-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN',
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
    '-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT',
  ]);
  t.ok(
    lines.includes(
      '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    ),
  );
  t.ok(lines.includes('-A KUBE-POSTROUTING -m mark ! --mark 0x004000/0x004000 -j RETURN'));
  t.ok(lines.includes('-A KUBE-MARK-MASQ -j MARK --or-mark 0x004000'));
  t.ok(lines.includes('-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ'));
  t.ok(lines.includes('-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT'));
  t.ok(lines.indexOf(':KUBE-IPVS-OUT-FILTER - [0:0]') > lines.indexOf('*filter'));
  const many = kubeProxyIpvs(
    Array.from({ length: 500 }, (_, i) => svc(`ns/s${i}:http`, `10.96.${i >> 8}.${i & 255}`, 80, ['10.244.0.1'])),
    4,
    { clusterCidr: '10.244.0.0/16' },
  );
  t.equal(many.iptables.split('\n').length, s.iptables.split('\n').length, '500 services: no more iptables rules');
  t.equal(many.virtualServers, 500);
  t.equal(kubeProxyIpvs(SERVICES, 4).iptables.match(/KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ/)?.length, 1, 'no pod CIDR: VIP-sourced node traffic is masqueraded');
  t.same(s.entryJumps[0], ['nat', 'OUTPUT', ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']]);
  t.equal(s.entryJumps.length, 9);
});

t.test('availability is judged from what the machine says', async (t) => {
  const base = { kernel: '6.1.0', procNetIpVs: true, ipvsadm: { ok: true, output: 'IP Virtual Server version 1.2.1' }, ipsetInstalled: true };
  t.same(ipvsAvailabilityFrom(base), { available: true });
  const noKernel = ipvsAvailabilityFrom({
    ...base,
    procNetIpVs: false,
    kernelConfig: '# CONFIG_IP_VS is not set',
    ipvsadm: { ok: false, output: "Can't initialize ipvs: Protocol not available" },
  });
  t.equal(noKernel.available, false);
  if (!noKernel.available) {
    t.match(noKernel.reason, /offers no IPVS: \/proc\/net\/ip_vs does not exist/);
    t.match(noKernel.reason, /CONFIG_IP_VS is not set/);
    t.match(noKernel.reason, /Protocol not available/);
  }
  t.match(ipvsAvailabilityFrom({ ...base, ipvsadm: undefined }), { available: false, reason: /ipvsadm is not installed/ });
  t.match(ipvsAvailabilityFrom({ ...base, ipsetInstalled: false }), { available: false, reason: /ipset is not installed/ });
});

t.test('on this machine: what the kernel says, and no install without IPVS', async (t) => {
  const facts = probeIpvs();
  const a = ipvsAvailability();
  t.comment(`IPVS here: ${JSON.stringify(a)}`);
  if (facts.procNetIpVs) {
    t.pass('this kernel has IPVS; the unavailable path is covered by the facts above');
    return;
  }
  t.equal(a.available, false);
  if (!a.available) t.match(a.reason, /IPVS/);
  t.throws(() => installIpvsMode(undefined as never, SERVICES), /IPVS mode unavailable: .*IPVS/, 'the installer refuses before touching anything');
});
