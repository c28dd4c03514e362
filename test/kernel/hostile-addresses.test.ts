// Cluster IPs and endpoints that would capture traffic not meant for a service (the defects
// issue, item 1), on the real kernel: the client pod runs its own server on every address, so
// a connection that was captured is answered by a backend, one that was not by "client".
import t from 'tap';
import { byBackend, KernelLab, programmed } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const PORT = 7000;

t.test('hostile cluster IPs and endpoint addresses are refused, with a warning naming object and field', async (t) => {
  const lab = await KernelLab.create(t, ['be-1', 'be-2'], [PORT]);
  await lab.startBackend('client', [PORT]);
  const client = lab.pod('client');
  const be1 = lab.pod('be-1');
  const be2 = lab.pod('be-2');
  const toBe1 = (name: string, ips: string[], addresses = [be1.ipv4]): Record<string, unknown>[] => [
    service('ns', name, ips, [{ port: PORT }]),
    endpointSlice('ns', `${name}-1`, name, 'IPv4', [{ port: PORT }], addresses),
  ];
  const clientPod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'client' }, status: { podIPs: [{ ip: client.ipv4 }] } };
  lab.writeServices([
    ...toBe1('good', ['10.96.0.10']),
    // be-2 is known as a pod through being an endpoint.
    ...toBe1('other', ['10.96.0.40'], [be2.ipv4]),
    ...toBe1('loopback', ['127.0.0.1']),
    ...toBe1('loopback6', ['::1']),
    ...toBe1('metadata', ['169.254.169.254']),
    ...toBe1('mdns', ['224.0.0.251']),
    ...toBe1('unspecified', ['0.0.0.0']),
    ...toBe1('pod-address', [be2.ipv4]),
    ...toBe1('client-address', [client.ipv4]),
    ...toBe1('loopback-endpoint', ['10.96.0.30'], ['127.0.0.1', be1.ipv4]),
    ...toBe1('outside-cidrs', ['10.97.0.1']),
    clientPod,
  ]);
  const agent = lab.startAgent(['--services', lab.servicesFile, '--service-cidrs', '10.96.0.0/16,fd00:96::/112']);
  await agent.nextSync();

  t.same(
    Object.keys(programmed(lab.bpffs)),
    ['10.96.0.10:7000/TCP', '10.96.0.30:7000/TCP', '10.96.0.40:7000/TCP'],
    'only the cluster IPs inside the service CIDR that are nobody else\'s address are programmed',
  );
  t.same(programmed(lab.bpffs)['10.96.0.30:7000/TCP'], [`${be1.ipv4}:${PORT}`], 'the loopback endpoint is left out');

  // Each refused address reaches what really holds it (the client's own server, another pod).
  const expectations: [string, string][] = [
    ['127.0.0.1', 'client'],
    ['::1', 'client'],
    [be2.ipv4, 'be-2'],
    [client.ipv4, 'client'],
    ['10.96.0.10', 'be-1'],
    ['10.96.0.30', 'be-1'],
  ];
  for (const [host, want] of expectations) {
    const r = await lab.probe({ mode: 'tcp', host, port: PORT, count: 20 });
    t.same(byBackend(r), { [want]: 20 }, `${host}:${PORT} is answered by ${want} (errors ${JSON.stringify(r.errors)})`);
  }

  const warnings = agent.logs.filter((l) => l.level === 40 && typeof l.object === 'string').map((l) => `${l.object as string} ${l.field as string}: ${l.msg}`);
  const expectWarning = (re: RegExp, what: string): void => {
    t.ok(
      warnings.some((w) => re.test(w)),
      what,
    );
  };
  expectWarning(/^Service ns\/loopback spec.clusterIPs\[0\]: .*is a loopback address \(127.0.0.1\)/, 'loopback cluster IP named');
  expectWarning(/^Service ns\/loopback6 spec.clusterIPs\[0\]: .*loopback address \(::1\)/, 'IPv6 loopback cluster IP named');
  expectWarning(/^Service ns\/metadata spec.clusterIPs\[0\]: .*link-local/, 'link-local cluster IP named');
  expectWarning(/^Service ns\/mdns spec.clusterIPs\[0\]: .*multicast/, 'multicast cluster IP named');
  expectWarning(/^Service ns\/unspecified spec.clusterIPs\[0\]: .*unspecified/, 'unspecified cluster IP named');
  expectWarning(new RegExp(`^Service ns/pod-address spec.clusterIPs\\[0\\]: .*${be2.ipv4} is the address of an endpoint`), 'a cluster IP that is an endpoint address');
  expectWarning(new RegExp(`^Service ns/client-address spec.clusterIPs\\[0\\]: .*${client.ipv4} is the address of Pod ns/client`), 'a cluster IP that is a Pod\'s address');
  expectWarning(/^EndpointSlice ns\/loopback-endpoint-1 endpoints\[0\].addresses\[0\]: .*loopback/, 'loopback endpoint named');
  expectWarning(/^Service ns\/outside-cidrs spec.clusterIPs\[0\]: .*10.97.0.1 is outside --service-cidrs \(10.96.0.0\/16, fd00:96::\/112\)/, 'outside the service CIDRs');
  t.notOk(
    agent.logs.some((l) => /--service-cidrs is not set/.test(l.msg)),
    'no warning about the flag when it is set',
  );
});

t.test('without --service-cidrs the agent warns once and accepts any other unicast cluster IP', async (t) => {
  const lab = await KernelLab.create(t, ['be-1'], [PORT]);
  lab.writeServices([service('ns', 'far', ['10.97.0.1'], [{ port: PORT }]), endpointSlice('ns', 'far-1', 'far', 'IPv4', [{ port: PORT }], [lab.pod('be-1').ipv4])]);
  const agent = lab.startAgent();
  await agent.nextSync();
  t.same(Object.keys(programmed(lab.bpffs)), ['10.97.0.1:7000/TCP']);
  t.equal(agent.logs.filter((l) => /--service-cidrs is not set/.test(l.msg)).length, 1, 'one warning');
});
