// `socklb demo`: a mini cluster in network namespaces (a client pod and three backend pods
// running real servers, a node with an uplink to a host outside the cluster), the agent fed by a
// Kubernetes-format services file, connections to the service VIP from the client, and to a
// NodePort from the outside host (NodeTc on the node's uplink), and a report of how they spread.
// Everything it makes is removed at the end, also on failure or Ctrl-C.
import { runProbe, startBackend } from '../lab/lab-processes.js';
import { LAB_SERVICE_CIDRS, NODE_V4, PodNetwork } from '../lab/pod-network.js';
import { run } from '../lab/command.js';
import { openPinnedDatapath, uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { FRONTEND_FLAGS, IPPROTO_TCP } from '../datapath/frontends-map.js';
import type { ProbeResult } from '../lab/probe-client.js';
import { FileSource } from '../source/file-source.js';
import { startAgent, type Agent } from './agent.js';
import type { Logger } from './logger.js';

const BACKENDS = ['web-1', 'web-2', 'web-3'];
const BACKEND_PORTS = [8080, 5353];
/** The Node the services file's NodePorts are on (its InternalIP is the uplink's 198.18.0.1). */
const DEMO_NODE = 'demo-node';

/** The first TCP NodePort (a north-south frontend) on the address, as the agent programmed it. */
function nodePortOn(bpffs: string, address: string): number | undefined {
  const dp = openPinnedDatapath(bpffs);
  try {
    return dp.maps.frontends
      .entries()
      .filter(([k, v]) => k.address === address && k.protocol === IPPROTO_TCP && (v.flags & FRONTEND_FLAGS.external) !== 0)
      .map(([k]) => k.port)
      .sort((a, b) => a - b)[0];
  } finally {
    dp.close();
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(message);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function spreadTable(result: ProbeResult, out: (s: string) => void): void {
  const total = Object.values(result.replies).reduce((a, b) => a + b, 0);
  for (const [reply, n] of Object.entries(result.replies).sort()) {
    const pct = (100 * n) / Math.max(total, 1);
    out(`  ${reply.padEnd(12)} ${String(n).padStart(4)}  ${pct.toFixed(1).padStart(5)}%  ${'#'.repeat(Math.round(pct / 2))}`);
  }
  for (const [code, n] of Object.entries(result.errors)) out(`  error ${code}: ${n}`);
}

export async function runDemo(opts: { services: string; connections: number }, log: Logger, out: (s: string) => void): Promise<boolean> {
  const net = PodNetwork.create();
  const bpffs = net.labRun.bpffs('demo');
  let agent: Agent | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    net.addPod('client');
    for (const name of BACKENDS) net.addPod(name);
    await Promise.all(BACKENDS.map((name) => startBackend(net, name, BACKEND_PORTS)));
    // A host outside the cluster on the node's uplink (ext0); the pods' way back to it, as their
    // default route would be, goes through the node.
    const world = net.addOutside('world');
    for (const name of BACKENDS) run('ip', ['-n', net.pod(name).netns, 'route', 'add', '198.18.0.0/24', 'via', NODE_V4]);
    out(`pods: client ${net.pod('client').ipv4}; ${BACKENDS.map((b) => `${b} ${net.pod(b).ipv4}`).join(', ')} (namespaces slb-${net.runId}-*)`);
    out(`node ${DEMO_NODE}: uplink ${world.device} ${world.nodeIpv4}, a host outside the cluster behind it at ${world.ipv4}`);
    // The lab's service CIDRs speed the hooks' lookups; the services file may hold VIPs outside
    // them (they take the other lookup order), so the model is not told to refuse those.
    agent = startAgent(
      { bpffs, cgroup: net.cgroup.path, serviceCidrs: LAB_SERVICE_CIDRS, nodeName: DEMO_NODE, nodeDevices: ['ext*'], nodeNetns: net.nodeNetnsPath },
      { log, source: new FileSource(opts.services, log, { nodeName: DEMO_NODE, localScopeFrontends: true }) },
    );
    await waitUntil(() => agent!.ready(), 5000, 'the agent did not apply the services file within 5 s');
    out(`agent: programs attached to cgroup ${net.cgroup.path} and to the node's ${world.device}, maps pinned at ${bpffs}, services from ${opts.services}`);

    const tcp = await runProbe(net, 'client', { mode: 'tcp', host: '10.96.0.10', port: 80, count: opts.connections, concurrency: 4 });
    out(`\n${opts.connections} TCP connections from the client to web (10.96.0.10:80), one request each:`);
    spreadTable(tcp, out);
    out(`  the client's getpeername() saw: ${Object.keys(tcp.peers).join(', ')}`);

    const tcp6 = await runProbe(net, 'client', { mode: 'tcp', host: 'fd00:96::10', port: 80, count: 30, concurrency: 2 });
    out(`\n30 TCP connections over IPv6 to [fd00:96::10]:80:`);
    spreadTable(tcp6, out);

    const udp = await runProbe(net, 'client', { mode: 'udp', host: '10.96.0.10', port: 7, count: 1 });
    const [reply] = Object.keys(udp.replies);
    const [peer] = Object.keys(udp.peers);
    out(`\nUDP: sendto(10.96.0.10:7) answered by ${reply ?? '(no reply)'}; recvfrom() reported the sender as ${peer ?? '(none)'}`);

    const refused = await runProbe(net, 'client', { mode: 'tcp', host: '10.96.0.20', port: 80, count: 1, timeoutMs: 3000 });
    out(`\nmaintenance (10.96.0.20:80) has no ready endpoint: connect() failed with ${Object.keys(refused.errors).join(', ') || 'no error'}`);
    const nodePort = nodePortOn(bpffs, world.nodeIpv4);
    let outside: ProbeResult | undefined;
    if (nodePort === undefined) {
      out(`\nno NodePort on ${DEMO_NODE}'s address ${world.nodeIpv4} in the services file: nothing to show from outside the node`);
    } else {
      // Outside the run's cgroup: no socket hook sees this client, the node's tc programs do.
      outside = await runProbe(net, 'world', { mode: 'tcp', host: world.nodeIpv4, port: nodePort, count: 60, concurrency: 2 }, false);
      out(`\n60 TCP connections from outside the cluster (${world.ipv4}) to the NodePort ${world.nodeIpv4}:${nodePort}, through the node's ${world.device}:`);
      spreadTable(outside, out);
      out(`  the outside client's getpeername() saw: ${Object.keys(outside.peers).join(', ')}`);
    }
    out(`\ndatapath counters: ${JSON.stringify(Object.fromEntries(Object.entries(agent.counters()).map(([k, v]) => [k, Number(v)])))}`);
    const spread = Object.keys(tcp.replies).length;
    return !interrupted && spread === BACKENDS.length && tcp.ok === opts.connections && (outside === undefined || outside.ok === 60);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await agent?.stop();
    const problems: string[] = [];
    try {
      uninstallSockDatapath(bpffs);
    } catch (err) {
      problems.push((err as Error).message);
    }
    problems.push(...(await net.destroy()));
    out(problems.length === 0 ? '\ncleaned up: agent stopped, programs detached, pins, cgroup and namespaces removed' : `\nclean-up problems:\n  ${problems.join('\n  ')}`);
  }
}
