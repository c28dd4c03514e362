// North-south connections from outside the node, on the real kernel, in both modes: a client
// beyond the node (an outside host on the node's device ext0) reaches NodePorts on the node's
// address and an externalIP routed to the node, over TCP and UDP, IPv4 and IPv6, through NodeTc
// (tc_node.bpf.c on --node-devices). A backend on this node sees the client's own address; a
// backend on another node (an outside host on ext1 holding a pod address of another node) is
// reached source-NATed to the node's address on ext1 and answers through this node. Only these
// flows get entries in slb_node_ct: pods' connections to the same addresses are translated at
// their sockets (or by PodTc in conntrack mode) and never meet it. externalTrafficPolicy Local
// keeps a client from outside on this node's endpoints with its own address, and drops it where
// there is none; the node's other ports and a service without endpoints behave as the comments
// below say.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { closeFd, openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { listFlowTables } from '../../src/cli/ct-list.js';
import { CT_DIRECTION, CT_VERDICT, ctKeyLayout, type CtKey } from '../../src/datapath/ct-map.js';
import { mapDir } from '../../src/datapath/datapath-object.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { NODE_CT_MAP, nodeCtEntryLayout } from '../../src/datapath/node-ct-map.js';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { run } from '../../src/lab/command.js';
import { waitForLine } from '../../src/lab/lab-processes.js';
import { NODE_V4, NODE_V6 } from '../../src/lab/pod-network.js';
import type { ProbeRequest } from '../../src/lab/probe-client.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices } from '../helpers/k8s-fixtures.js';
import { node, nodeSlice, nsService } from '../helpers/ns-fixtures.js';

const LOCAL = ['be-1', 'be-2'];
const EXTERNAL_IPS = ['203.0.113.10', '2001:db8:ee::10'];
/** The other node's pod, held by the outside host "peer". */
const REMOTE_POD = { ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10' };
/** healthCheckNodePorts of the two externalTrafficPolicy Local services. */
const HEALTH = { local: 32100, elsewhere: 32101 };
/** The service with spec.healthCheckNodePort set, as the API server allocates it. */
function withHealthCheck(svc: Record<string, unknown>, port: number): Record<string, unknown> {
  (svc.spec as Record<string, unknown>).healthCheckNodePort = port;
  return svc;
}

/** GET / on the node's address and a port from the outside host: status, header and body. */
async function healthFromWorld(lab: KernelLab, host: string, port: number): Promise<{ status?: number; weight?: string; body?: unknown; error?: string }> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
  const script = `fetch('${url}').then(async (r) => console.log(JSON.stringify({ status: r.status, weight: r.headers.get('x-load-balancing-endpoint-weight'), body: await r.json() }))).catch((e) => console.log(JSON.stringify({ error: String(e.cause?.code ?? e.message) })))`;
  const child = lab.net.spawn('world', process.execPath, ['-e', script], { inCgroup: false });
  return JSON.parse(await waitForLine(child, /^\{/, 15_000, 'health check client')) as { status?: number };
}
const PORTS = { web: 30080, webUdp: 30053, remote: 30081, local: 30082, empty: 30083, localElsewhere: 30084, nothing: 30999 };

function nodeFlows(bpffs: string): { key: CtKey; verdict: number }[] {
  const fd = openPinned(join(mapDir(bpffs), pinName(NODE_CT_MAP)));
  try {
    return new TypedMap(NODE_CT_MAP, fd, ctKeyLayout, nodeCtEntryLayout).entries().map(([key, e]) => ({ key, verdict: e.ct.verdict }));
  } finally {
    closeFd(fd);
  }
}

for (const mode of ['socket', 'conntrack'] as const) {
  t.test(`connections from outside the node through NodeTc (${mode} mode)`, async (t) => {
    const lab = await KernelLab.create(t, LOCAL, [8080]);
    const net = lab.net;
    const world = net.addOutside('world', { via: [`${EXTERNAL_IPS[0]}/32`, `${EXTERNAL_IPS[1]}/128`] });
    const peer = net.addOutside('peer', { addresses: [`${REMOTE_POD.ipv4}/32`, `${REMOTE_POD.ipv6}/128`], routedToIt: ['10.244.1.0/24', 'fd00:244:1::/64'] });
    await lab.startBackend('peer', [8080]);
    // The local pods' way back to the client (and the client pod's to the node's ext0 address,
    // for conntrack mode's tc, which sees only what leaves a pod), as their default routes
    // would be: via the node.
    for (const pod of [...LOCAL, 'client']) {
      run('ip', ['-n', lab.pod(pod).netns, 'route', 'add', '198.18.0.0/24', 'via', NODE_V4]);
      run('ip', ['-n', lab.pod(pod).netns, '-6', 'route', 'add', 'fd00:e0::/64', 'via', NODE_V6]);
    }
    const http = (nodePort: number) => [{ name: 'http', port: 80, targetPort: 8080, nodePort }];
    lab.writeServices([
      nsService('ns', 'web', ['10.96.0.10', 'fd00:96::10'], [...http(PORTS.web), { name: 'dns', port: 53, targetPort: 8080, protocol: 'UDP', nodePort: PORTS.webUdp }], {
        type: 'NodePort',
        externalIPs: EXTERNAL_IPS,
      }),
      ...dualStackSlices(
        'ns',
        'web',
        [
          { name: 'http', port: 8080 },
          { name: 'dns', port: 8080, protocol: 'UDP' },
        ],
        LOCAL.map((b) => lab.pod(b)),
      ),
      nsService('ns', 'remote', ['10.96.0.20', 'fd00:96::20'], http(PORTS.remote), { type: 'NodePort' }),
      ...dualStackSlices('ns', 'remote', [{ name: 'http', port: 8080 }], [REMOTE_POD]),
      // externalTrafficPolicy Local: be-1 is this node's endpoint, be-2 is said to be another's.
      // (nodeSlice's port is unnamed, as the service's single port.)
      // A LoadBalancer (without an ingress IP yet): its health check port is answered too.
      withHealthCheck(
        nsService('ns', 'local', ['10.96.0.30'], [{ port: 80, targetPort: 8080, nodePort: PORTS.local }], { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }),
        HEALTH.local,
      ),
      nodeSlice('ns', 'local-v4', 'local', 8080, [
        { address: lab.pod('be-1').ipv4, nodeName: 'node-a' },
        { address: lab.pod('be-2').ipv4, nodeName: 'node-b' },
      ]),
      withHealthCheck(
        nsService('ns', 'elsewhere', ['10.96.0.50'], [{ port: 80, targetPort: 8080, nodePort: PORTS.localElsewhere }], { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }),
        HEALTH.elsewhere,
      ),
      nodeSlice('ns', 'elsewhere-v4', 'elsewhere', 8080, [{ address: REMOTE_POD.ipv4, nodeName: 'node-b' }]),
      nsService('ns', 'empty', ['10.96.0.40'], http(PORTS.empty), { type: 'NodePort' }),
      // NodePorts are balanced on the node's addresses from its Node object (--node-name).
      node('node-a', [world.nodeIpv4, world.nodeIpv6]),
    ]);
    const agent = lab.startAgent(['--services', lab.servicesFile, '--node-name', 'node-a', '--node-devices', 'ext*'], { mode, inNodeNetns: true });
    t.match(await agent.nextSync(), { errors: 0 });
    const dp = openPinnedDatapath(lab.bpffs);
    t.teardown(() => dp.close());
    const counters = (): Record<string, bigint> => dp.maps.counters();
    const fromWorld = (req: Omit<ProbeRequest, 'count'> & { count?: number }) => lab.probeFrom('world', { count: 30, concurrency: 2, timeoutMs: 3000, ...req });

    const balancedLocally = async (t: Test, host: string, port: number, mode: 'tcp' | 'udp' = 'tcp'): Promise<void> => {
      // A UDP socket is one flow, which keeps its backend: ten sockets (one a worker) reach both.
      const r = await fromWorld({ mode, host, port, ...(mode === 'udp' ? { concurrency: 10 } : {}) });
      t.same(Object.keys(byBackend(r)).sort(), LOCAL, `${host}:${port}/${mode} reaches both local backends (errors: ${JSON.stringify(r.errors)})`);
      t.equal(r.ok, 30);
      t.same(Object.keys(r.peers), [`${host}:${port}`], 'the replies come from the address asked for');
    };

    t.test("a NodePort on the node's address, from outside, reaches the node's pods with the client's address", async (t) => {
      const before = counters();
      for (const host of [world.nodeIpv4, world.nodeIpv6]) await balancedLocally(t, host, PORTS.web);
      const clients = { ...(await lab.backendClients('be-1')), ...(await lab.backendClients('be-2')) };
      t.same(Object.keys(clients).sort(), [world.ipv4, world.ipv6].sort(), 'the backends saw the client, not the node');
      t.ok(counters().node_translated - before.node_translated >= 60n, 'translated by the node programs');
      t.equal(counters().node_snat - before.node_snat, 0n, 'not source-NATed');
    });

    t.test('an externalIP routed to the node, from outside', async (t) => {
      for (const host of EXTERNAL_IPS) await balancedLocally(t, host, 80);
    });

    t.test('a UDP NodePort, from outside', async (t) => {
      for (const host of [world.nodeIpv4, world.nodeIpv6]) await balancedLocally(t, host, PORTS.webUdp, 'udp');
    });

    t.test('a backend on another node is reached source-NATed, and answers through this node', async (t) => {
      const before = counters();
      for (const host of [world.nodeIpv4, world.nodeIpv6]) {
        const r = await fromWorld({ mode: 'tcp', host, port: PORTS.remote });
        t.same(byBackend(r), { peer: 30 }, `${host}:${PORTS.remote} (errors: ${JSON.stringify(r.errors)})`);
        t.same(Object.keys(r.peers), [`${host}:${PORTS.remote}`], 'the replies come from the NodePort');
      }
      t.same(Object.keys(await lab.backendClients('peer')).sort(), [peer.nodeIpv4, peer.nodeIpv6].sort(), "the other node's backend saw this node's address on the way to it");
      t.equal(counters().node_snat - before.node_snat, 60n, 'every flow source-NATed');
      const snat = listFlowTables(lab.bpffs)
        .find((tb) => tb.map === NODE_CT_MAP)!
        .flows.filter((f) => f.verdict.includes('snat'));
      // A closed flow's port (and entries) may have gone to a later flow of the 60 already.
      t.ok(snat.length > 40, `ct list shows the source-NATed flows (${snat.length})`);
      t.ok(
        snat.every((f) => f.snat && [peer.nodeIpv4, peer.nodeIpv6].includes(f.snat.address) && f.snat.port >= 61000),
        "each leaves from the node's address on the device towards the backend, from a port of the source NAT's range",
      );
    });

    t.test('only north-south flows from outside are tracked', async (t) => {
      const before = nodeFlows(lab.bpffs).length;
      // A pod's connections to the same NodePort and cluster IP: translated at the socket (or
      // by PodTc), never by the node programs.
      for (const host of [world.nodeIpv4, '10.96.0.10']) {
        const r = await lab.probe({ mode: 'tcp', host, port: host === world.nodeIpv4 ? PORTS.web : 80, count: 20, timeoutMs: 3000 });
        t.equal(r.ok, 20, `a pod reaches ${host}`);
      }
      t.equal(nodeFlows(lab.bpffs).length, before, 'no entry for a pod-to-service connection');
      const r = await fromWorld({ mode: 'tcp', host: world.nodeIpv4, port: PORTS.web, count: 20, concurrency: 1 });
      t.equal(r.ok, 20);
      const flows = nodeFlows(lab.bpffs);
      const forward = flows.filter((f) => f.key.direction === CT_DIRECTION.forward && f.key.src === world.ipv4 && f.key.dport === PORTS.web);
      t.ok(forward.length >= 20, `a forward entry per connection from outside (${forward.length})`);
      for (const f of forward) {
        t.equal(f.verdict, CT_VERDICT.dnat);
        const replies = flows.filter((g) => g.key.direction === CT_DIRECTION.reply && g.key.dst === world.ipv4 && g.key.dport === f.key.sport);
        if (replies.length !== 1) t.fail(`flow from port ${f.key.sport} has ${replies.length} reply entries`);
      }
    });

    t.test("externalTrafficPolicy Local from outside: this node's endpoints only, with the client's address", async (t) => {
      const before = counters();
      const r = await fromWorld({ mode: 'tcp', host: world.nodeIpv4, port: PORTS.local });
      t.same(byBackend(r), { 'be-1': 30 }, `only be-1, this node's endpoint (errors: ${JSON.stringify(r.errors)})`);
      t.equal(counters().node_snat - before.node_snat, 0n, 'never source-NATed');
      t.ok((await lab.backendClients('be-1'))[world.ipv4]! >= 30, "be-1 saw the client's address");
      const fromPod = await lab.probe({ mode: 'tcp', host: world.nodeIpv4, port: PORTS.local, count: 40, concurrency: 2, timeoutMs: 3000 });
      t.same(Object.keys(byBackend(fromPod)).sort(), LOCAL, "a pod's connections use every endpoint (kube-proxy's short-circuit)");
      const elsewhere = await fromWorld({ mode: 'tcp', host: world.nodeIpv4, port: PORTS.localElsewhere, count: 3, timeoutMs: 1500 });
      t.same(elsewhere.errors, { ETIMEDOUT: 3 }, 'no endpoint on this node: dropped, as kube-proxy drops it');
      t.ok(counters().no_backend - before.no_backend >= 3n, 'counted as no_backend');
    });

    t.test("a load balancer's health check of each externalTrafficPolicy Local service: this node's endpoint count", async (t) => {
      t.match(
        await healthFromWorld(lab, world.nodeIpv4, HEALTH.local),
        { status: 200, weight: '1', body: { service: { namespace: 'ns', name: 'local' }, localEndpoints: 1, serviceProxyHealthy: true } },
        'one endpoint here: 200',
      );
      t.match(await healthFromWorld(lab, world.nodeIpv6, HEALTH.local), { status: 200 }, "on the node's IPv6 address too");
      t.match(
        await healthFromWorld(lab, world.nodeIpv4, HEALTH.elsewhere),
        { status: 503, weight: '0', body: { localEndpoints: 0 } },
        'none here: 503, so the load balancer sends it elsewhere',
      );
    });

    t.test("the node's other ports and a NodePort without endpoints", async (t) => {
      let before = counters();
      const nothing = await fromWorld({ mode: 'tcp', host: world.nodeIpv4, port: PORTS.nothing, count: 3 });
      t.same(nothing.errors, { ECONNREFUSED: 3 }, "a port nothing has: the node's own kernel refuses it");
      t.equal(counters().node_translated - before.node_translated, 0n);
      before = counters();
      const empty = await fromWorld({ mode: 'tcp', host: world.nodeIpv4, port: PORTS.empty, count: 3 });
      t.same(empty.errors, { ECONNREFUSED: 3 }, 'no endpoints: refused at once, as kube-proxy rejects it');
      t.ok(counters().no_backend - before.no_backend >= 3n);
    });

    t.test('an agent without --node-devices takes the node programs off the devices', async (t) => {
      await agent.stop();
      const tcFilters = (): string => run('ip', ['netns', 'exec', net.nodeNetns, 'tc', 'filter', 'show', 'dev', world.device, 'ingress']);
      t.match(tcFilters(), /handle 0x5c1c slb_node_from_w/, 'on ext0 while configured');
      const next = lab.startAgent(['--services', lab.servicesFile, '--node-name', 'node-a'], { mode, inNodeNetns: true });
      await next.nextSync();
      t.notMatch(tcFilters(), /handle 0x5c1c/, 'gone from ext0');
      t.notOk(existsSync(join(mapDir(lab.bpffs), pinName(NODE_CT_MAP))), 'slb_node_ct unpinned');
    });
  });
}
