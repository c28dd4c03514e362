// The nftables baseline against kube-proxy's own layout: chain names and a whole expected
// transaction from kube-proxy's tests (pkg/proxy/nftables/proxier_test.go), the numgen/vmap
// endpoint choice, DNAT and masquerade, no-endpoint rejects, IPv4/IPv6 split, NodePorts and
// external IPs through the external chain (externalTrafficPolicy Cluster), and `nft -f`
// accepting a table of 200+ services in a namespace of the test's own.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { nftEndpointChain, nftExternalChain, nftServiceChain } from '../../src/bench/baselines/kube-proxy-chains.js';
import { kubeProxyNftables, nftHooksOff, nftHooksOn, NFT_BASE_CHAINS } from '../../src/bench/baselines/kube-proxy-nftables.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { LabRun } from '../../src/lab/lab-run.js';

const svc = (owner: string, address: string, port: number, backends: string[], protocol: 'TCP' | 'UDP' = 'TCP', backendPort = 8080): DesiredService => ({
  owner,
  frontend: { address, port, protocol },
  backends: backends.map((b) => ({ address: b, port: backendPort })),
});
/** A north-south frontend of the same service port, as the model lists it. */
const external = (s: DesiredService, address: string, port: number): DesiredService => ({ ...s, frontend: { ...s.frontend, address, port }, reach: 'external' });

t.test("chain names are kube-proxy's", async (t) => {
  // Vectors from kubernetes pkg/proxy/nftables/proxier_test.go (TestOverallNFTablesRules) and
  // the IPv6 dump in knftables' fake_test.go.
  t.equal(nftServiceChain('ns1/svc1:p80', 'TCP'), 'service-ULMVA6XW-ns1/svc1/tcp/p80');
  t.equal(nftEndpointChain('ns1/svc1:p80', 'tcp', '10.180.0.1', 80), 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
  t.equal(nftServiceChain('ns2/svc2:p80', 'tcp'), 'service-42NFTM6N-ns2/svc2/tcp/p80');
  t.equal(nftEndpointChain('ns2/svc2:p80', 'tcp', '10.180.0.2', 80), 'endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80');
  t.equal(nftServiceChain('ns4/svc4:p80', 'tcp'), 'service-LAUZTJTB-ns4/svc4/tcp/p80');
  t.equal(nftEndpointChain('ns4/svc4:p80', 'tcp', '10.180.0.4', 80), 'endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80');
  t.equal(nftEndpointChain('ns4/svc4:p80', 'tcp', '10.180.0.5', 80), 'endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80');
  t.equal(nftServiceChain('ns5/svc5:p80', 'tcp'), 'service-HVFWP5L3-ns5/svc5/tcp/p80');
  t.equal(nftEndpointChain('ns1/svc1:p80', 'tcp', 'fd00:10:180::1', 80), 'endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80');
  t.equal(nftEndpointChain('ns1/svc1:p80', 'tcp', 'fd00:10:180::2:1', 80), 'endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80');
  t.match(nftServiceChain('ns/unnamed', 'UDP'), /^service-[A-Z2-7]{8}-ns\/unnamed\/udp\/$/, 'an unnamed port leaves the last part empty');
  const long = `${'n'.repeat(63)}/${'s'.repeat(63)}:${'p'.repeat(63)}`;
  const name = nftEndpointChain(long, 'tcp', 'fd00:1111:2222:3333:4444:5555:6666:7777', 65535);
  t.equal(name.length, 'endpoint-'.length + 240, 'truncated to 240 after the prefix');
  t.match(name, /\.\.\.$/);
});

// kube-proxy's expected dump for a fake proxier (pod CIDR 10.0.0.0/8, service CIDR
// 172.30.0.0/16, nodeport address 192.168.0.2, mark 0x4000) with TestOverallNFTablesRules'
// svc1 (one endpoint) and svc6 (none): its baseRules and those services' sections.
const KUBE_PROXY_EXPECTED = `
add table ip kube-proxy { comment "rules for kube-proxy" ; }
add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }
add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
add chain ip kube-proxy cluster-ips-check
add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }
add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }
add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }
add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }
add chain ip kube-proxy firewall-check
add chain ip kube-proxy mark-for-masquerade
add chain ip kube-proxy masquerading
add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip kube-proxy nodeport-endpoints-check
add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
add chain ip kube-proxy services
add chain ip kube-proxy service-endpoints-check
add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
add rule ip kube-proxy cluster-ips-check ip daddr { 172.30.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"
add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-output ct state new jump cluster-ips-check
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
add rule ip kube-proxy masquerading mark set mark xor 0x4000
add rule ip kube-proxy masquerading masquerade fully-random
add rule ip kube-proxy nat-output jump services
add rule ip kube-proxy nat-postrouting jump masquerading
add rule ip kube-proxy nat-prerouting jump services
add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip kube-proxy reject-chain reject
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
add element ip kube-proxy nodeport-ips { 192.168.0.2 }
add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 ip saddr 10.180.0.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp dnat to 10.180.0.1:80
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy cluster-ips { 172.30.0.46 }
add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }
`;

t.test("the transaction holds exactly kube-proxy's objects for its test services", async (t) => {
  const r = kubeProxyNftables([svc('ns1/svc1:p80', '172.30.0.41', 80, ['10.180.0.1'], 'TCP', 80), svc('ns6/svc6:p80', '172.30.0.46', 80, [])], 4, {
    clusterCidr: '10.0.0.0/8',
    serviceCidrs: ['172.30.0.0/16'],
    nodePortIPs: ['192.168.0.2'],
  });
  // kube-proxy's fake dumps the end state: no flushes, no add-and-delete of the base chains
  // (done once so that leftovers with other properties cannot fail the first sync). The fake
  // also sets the mark to "0x4000" where the real proxier prints "%#08x" (0x004000).
  const baseNames = new Set(NFT_BASE_CHAINS.map((c) => `add chain ip kube-proxy ${c.name}`));
  const ours = r.transaction
    .split('\n')
    .filter((l) => l && !l.startsWith('flush ') && !l.startsWith('delete ') && !baseNames.has(l))
    .map((l) => l.replaceAll('0x004000', '0x4000'));
  const theirs = KUBE_PROXY_EXPECTED.split('\n').filter((l) => l);
  t.same([...ours].sort(), [...theirs].sort());
  t.equal(r.serviceElements, 1, 'the service without endpoints is in no-endpoint-services, not service-ips');
});

t.test('numgen/vmap over every endpoint, DNAT and hairpin masquerade per endpoint', async (t) => {
  const r = kubeProxyNftables(
    [
      svc('ns/web:http', '10.96.0.10', 80, ['10.244.0.11', '10.244.0.12', '10.244.0.13']),
      svc('ns/dns:dns', '10.96.0.10', 53, ['10.244.0.14'], 'UDP', 53),
      svc('ns/v6:http', 'fd00:96::10', 80, ['fd00:244::a']),
    ],
    4,
    { clusterCidr: '10.244.0.0/16' },
  );
  const lines = r.transaction.split('\n');
  const chain = nftServiceChain('ns/web:http', 'tcp');
  const eps = ['10.244.0.11', '10.244.0.12', '10.244.0.13'].map((a) => nftEndpointChain('ns/web:http', 'tcp', a, 8080));
  t.ok(lines.includes(`add rule ip kube-proxy ${chain} numgen random mod 3 vmap { 0 : goto ${eps[0]} , 1 : goto ${eps[1]} , 2 : goto ${eps[2]} }`));
  t.ok(lines.includes(`add rule ip kube-proxy ${chain} ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`));
  t.ok(lines.includes(`add rule ip kube-proxy ${eps[1]} ip saddr 10.244.0.12 jump mark-for-masquerade`), 'hairpin');
  t.ok(lines.includes(`add rule ip kube-proxy ${eps[1]} meta l4proto tcp dnat to 10.244.0.12:8080`));
  t.ok(lines.includes(`add element ip kube-proxy service-ips { 10.96.0.10 . udp . 53 : goto ${nftServiceChain('ns/dns:dns', 'udp')} }`));
  t.equal(lines.filter((l) => l === 'add element ip kube-proxy cluster-ips { 10.96.0.10 }').length, 1, 'one cluster-ips element per address');
  t.equal(r.serviceElements, 2, 'the IPv6 service belongs in the ip6 table');
  t.notMatch(r.transaction, /fd00/);
  t.match(
    r.transaction,
    /add rule ip kube-proxy services fib daddr type local ip daddr != 127\.0\.0\.0\/8 meta l4proto \. th dport vmap @service-nodeports/,
    'nodeports on every local address',
  );
  t.match(r.transaction, /delete set ip kube-proxy nodeport-ips/);
  t.match(r.transaction, /mark set mark or 0x004000\n/, 'the mark as kube-proxy prints it');

  const v6 = kubeProxyNftables([svc('ns/v6:http', 'fd00:96::10', 80, ['fd00:244::a'])], 6, { clusterCidr: 'fd00:244::/64' });
  const v6chain = nftServiceChain('ns/v6:http', 'tcp');
  const v6ep = nftEndpointChain('ns/v6:http', 'tcp', 'fd00:244::a', 8080);
  t.equal(v6.table, 'ip6 kube-proxy');
  t.match(v6.transaction, /add set ip6 kube-proxy cluster-ips \{ type ipv6_addr ;/);
  t.ok(v6.transaction.includes(`add rule ip6 kube-proxy ${v6chain} ip6 daddr fd00:96::10 ip6 saddr != fd00:244::/64 jump mark-for-masquerade`));
  t.ok(v6.transaction.includes(`add rule ip6 kube-proxy ${v6ep} meta l4proto tcp dnat to [fd00:244::a]:8080`));
  t.ok(v6.transaction.includes('add rule ip6 kube-proxy services fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports'));
});

t.test('NodePorts and external IPs go through the external chain, which masquerades and goes on to the service chain', async (t) => {
  // TestOverallNFTablesRules' svc3 (a NodePort) and svc4 (an external IP), eTP Cluster.
  t.equal(nftExternalChain('ns3/svc3:p80', 'TCP'), 'external-4AT6LBPK-ns3/svc3/tcp/p80');
  const nodePort = svc('ns3/svc3:p80', '172.30.0.43', 80, ['10.180.0.3'], 'TCP', 80);
  const externalIp = svc('ns4/svc4:p80', '172.30.0.44', 80, ['10.180.0.4', '10.180.0.5'], 'TCP', 80);
  const nodes = ['192.168.0.2', '198.18.0.1'];
  const r = kubeProxyNftables([external(nodePort, nodes[0]!, 3003), nodePort, external(nodePort, nodes[1]!, 3003), externalIp, external(externalIp, '192.168.99.33', 80)], 4, {
    clusterCidr: '10.0.0.0/8',
    nodePortIPs: nodes,
  });
  const lines = r.transaction.split('\n');
  // kube-proxy's own lines for these services, as its test expects them.
  const expected = [
    'add chain ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80',
    'add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 jump mark-for-masquerade',
    'add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 goto service-4AT6LBPK-ns3/svc3/tcp/p80',
    'add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade',
    'add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }',
    'add element ip kube-proxy service-nodeports { tcp . 3003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 }',
    'add rule ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80 jump mark-for-masquerade',
    'add rule ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80 goto service-LAUZTJTB-ns4/svc4/tcp/p80',
    'add element ip kube-proxy service-ips { 192.168.99.33 . tcp . 80 : goto external-LAUZTJTB-ns4/svc4/tcp/p80 }',
  ];
  for (const line of expected) t.ok(lines.includes(line), line);
  t.equal(lines.filter((l) => l.startsWith('add element ip kube-proxy service-nodeports')).length, 1, 'one NodePort element, by port: it serves every nodeport-ips address');
  t.ok(lines.indexOf('add chain ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80') < lines.indexOf(expected[1]!), 'the chain exists before its rules');
  t.equal(r.serviceElements, 3, 'two cluster IPs and the external IP');
  const none = svc('ns/none:http', '10.96.0.13', 80, []);
  const empty = kubeProxyNftables([none, external(none, '198.18.0.1', 30090), external(none, '203.0.113.5', 80)], 4, { nodePortIPs: ['198.18.0.1'] });
  t.match(empty.transaction, /add element ip kube-proxy no-endpoint-nodeports \{ tcp \. 30090 comment "ns\/none:http" : goto reject-chain \}/, 'a NodePort without endpoints is rejected');
  t.match(empty.transaction, /add element ip kube-proxy no-endpoint-services \{ 203\.0\.113\.5 \. tcp \. 80 comment "ns\/none:http" : goto reject-chain \}/);
  t.notMatch(empty.transaction, /external-[A-Z2-7]{8}-/);
});

t.test('no endpoints: rejected through the no-endpoint-services map, no chains', async (t) => {
  const r = kubeProxyNftables([svc('ns/empty:http', '10.96.0.12', 80, [])], 4);
  t.match(r.transaction, /add element ip kube-proxy no-endpoint-services \{ 10\.96\.0\.12 \. tcp \. 80 comment "ns\/empty:http" : goto reject-chain \}/);
  t.notMatch(r.transaction, /service-[A-Z2-7]{8}-/);
  t.notMatch(r.transaction, /endpoint-[A-Z2-7]{8}-/);
  t.match(r.transaction, /add rule ip kube-proxy reject-chain reject/);
});

t.test('nft -f accepts the table with 200+ services (in a namespace of its own); hooks come and go', async (t) => {
  const run = LabRun.begin();
  const ns = `${run.netnsPrefix}nft`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    execFileSync('ip', ['netns', 'del', ns]);
    run.end();
  });
  const nft = (args: string[], input?: string): string => execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], { input, encoding: 'utf8' });
  const many = Array.from({ length: 250 }, (_, i) => svc(`ns/s${i}:http`, `10.96.${i >> 8}.${i & 255}`, 80, ['10.244.0.1', '10.244.0.2']));
  const nodePort = svc('ns/np:http', '10.96.9.10', 80, ['10.244.0.3']);
  const r = kubeProxyNftables(
    [...many, svc('ns/dns:dns', '10.96.0.0', 53, ['10.244.0.3'], 'UDP', 53), svc('ns/none:http', '10.96.9.9', 80, []), nodePort, external(nodePort, '10.244.0.1', 30080), external(nodePort, '203.0.113.5', 80)],
    4,
    {
      clusterCidr: '10.244.0.0/16',
      serviceCidrs: ['10.96.0.0/16'],
      nodePortIPs: ['10.244.0.1'],
    },
  );
  t.equal(r.serviceElements, 253);
  nft(['-f', '-'], r.transaction);
  const map = nft(['list', 'map', 'ip', 'kube-proxy', 'service-ips']);
  t.equal(map.match(/: goto service-/g)?.length, 252, 'every service port is one element of the map');
  t.equal(map.match(/: goto external-/g)?.length, 1, 'the external IP too');
  t.match(nft(['list', 'map', 'ip', 'kube-proxy', 'service-nodeports']), /tcp \. 30080 : goto external-/, 'the NodePort');
  const table = nft(['list', 'table', 'ip', 'kube-proxy']);
  t.equal(table.match(/chain endpoint-/g)?.length, 502);
  t.match(table, /chain nat-prerouting \{\n\s+type nat hook prerouting priority dstnat; policy accept;/);
  t.match(table, /chain filter-prerouting-pre-dnat \{\n\s+type filter hook prerouting priority dstnat - 10; policy accept;/);
  nft(['-f', '-'], r.transaction);
  t.pass('loading the same transaction again (a resync) is accepted');

  nft(['-f', '-'], nftHooksOff(4));
  t.notMatch(nft(['list', 'table', 'ip', 'kube-proxy']), /hook/, 'off: no base chain left');
  t.equal(nft(['list', 'map', 'ip', 'kube-proxy', 'service-ips']).match(/: goto service-/g)?.length, 252, 'off keeps the services');
  nft(['-f', '-'], nftHooksOn(4));
  const on = nft(['list', 'chain', 'ip', 'kube-proxy', 'filter-forward']);
  t.match(on, /ct state new jump service-endpoints-check\n\s+ct state new jump cluster-ips-check/, 'on: hooks and jumps back, in order');
});
