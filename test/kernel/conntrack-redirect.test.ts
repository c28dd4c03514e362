// Conntrack mode hands a translated packet straight to the pod it is for (bpf_redirect_peer
// from the sender's host-side veth into the receiver's namespace), not to the node's bridge and
// routing: real connections through a VIP, over IPv4 and IPv6, while the node's own counters
// show what went its way. Before a pod has sent anything socklb tracks, its packets take the
// node's path, so each backend costs the node a packet or two at the start; after that the
// node forwards nothing (its IP forwarding counters stand still) and the bridge delivers no
// reply to the client (the client's host-side veth transmits nothing).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pinName } from '../../src/datapath/map-layouts.js';
import { POD_LINKS_MAP } from '../../src/datapath/pod-links-map.js';
import { run } from '../../src/lab/command.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices, service } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2'];
const CONNECTIONS = 200;

/** A counter of the node namespace's /proc/net/snmp (IPv4) or snmp6 (IPv6). */
function nodeCounter(lab: KernelLab, v6: boolean): number {
  const ns = ['netns', 'exec', lab.net.nodeNetns];
  if (v6) {
    const line = run('ip', [...ns, 'cat', '/proc/net/snmp6'])
      .split('\n')
      .find((l) => l.startsWith('Ip6OutForwDatagrams'));
    return Number(line!.split(/\s+/)[1]);
  }
  const [names, values] = run('ip', [...ns, 'cat', '/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Ip:'));
  return Number(values!.split(/\s+/)[names!.split(/\s+/).indexOf('ForwDatagrams')]);
}

/** Packets the node sent out of the pod's host-side veth (towards the pod). */
function sentToPod(lab: KernelLab, pod: string): number {
  const hostIf = `veth${lab.pod(pod).ipv4.split('.')[3]}`;
  const [link] = JSON.parse(run('ip', ['-n', lab.net.nodeNetns, '-s', '-j', 'link', 'show', hostIf])) as { stats64: { tx: { packets: number } } }[];
  return link!.stats64.tx.packets;
}

t.test('conntrack mode delivers translated packets straight into the pods', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  lab.writeServices([
    service('ns', 'web', ['10.96.0.10', 'fd00:96::10'], [{ name: 'http', port: 80, targetPort: 8080 }]),
    ...dualStackSlices(
      'ns',
      'web',
      [{ name: 'http', port: 8080 }],
      BACKENDS.map((b) => lab.pod(b)),
    ),
  ]);
  const agent = lab.startAgent(undefined, { mode: 'conntrack', inNodeNetns: true });
  await agent.waitForLog((l) => l.msg === 'datapath installed');
  await agent.nextSync();

  for (const [host, v6] of [
    ['10.96.0.10', false],
    ['fd00:96::10', true],
  ] as const) {
    t.test(host, async (t) => {
      // A few connections teach the programs where the client and both backends are.
      const warm = await lab.probe({ mode: 'tcp', host, port: 80, count: 20, concurrency: 2 });
      t.equal(warm.ok, 20, `warm-up answered (errors ${JSON.stringify(warm.errors)})`);
      const forwarded = nodeCounter(lab, v6);
      const toClient = sentToPod(lab, 'client');
      const r = await lab.probe({ mode: 'tcp', host, port: 80, count: CONNECTIONS, concurrency: 4 });
      t.equal(r.ok, CONNECTIONS, `all answered (errors ${JSON.stringify(r.errors)})`);
      t.same(Object.keys(r.peers), [`${host}:80`], 'from the VIP');
      const spread = byBackend(r);
      for (const b of BACKENDS) t.ok((spread[b] ?? 0) >= CONNECTIONS / 5, `${b} got ${spread[b]}`);
      // Each connection is at least 3 packets to the backend (SYN, request, FIN or RST) and 2
      // replies: through the node, that would be >= 600 forwarded and >= 400 sent to the client.
      t.ok(nodeCounter(lab, v6) - forwarded < 10, `the node forwarded ${nodeCounter(lab, v6) - forwarded} packets for ${CONNECTIONS} connections`);
      t.ok(sentToPod(lab, 'client') - toClient < 10, `the bridge sent the client ${sentToPod(lab, 'client') - toClient} packets`);
    });
  }

  t.test('a restart in socket mode drops what the programs learned', async (t) => {
    const pin = join(lab.bpffs, 'maps', pinName(POD_LINKS_MAP));
    t.ok(existsSync(pin), 'pinned while conntrack mode runs');
    await agent.stop();
    const socket = lab.startAgent(undefined, { mode: 'socket', inNodeNetns: true });
    await socket.waitForLog((l) => l.msg === 'datapath installed');
    t.notOk(existsSync(pin), 'unpinned with the tc programs');
  });
});
