// The node-paths section: what NodeTc (tc_node.bpf.c, on the node's external devices) costs a
// packet on each of its paths, measured by the kernel itself with BPF_PROG_TEST_RUN on crafted
// IPv4/TCP frames, in a lab node namespace whose routes put one backend on this node and one on
// another. Most of what crosses a node's devices is not for a service (the node's own traffic,
// traffic it forwards), so the passes matter as much as the translations: the design's claim is
// that the tc program adds little to what it does not translate. Pass paths run many times in one
// call (the kernel's mean); paths that change the frame or the flow table run once a call, so
// their samples carry the test run's own per-call overhead, which the section measures on a pass
// path and takes off (the note gives it).
import { inNetns } from '../../bpf/netns.js';
import { TC_ACT_REDIRECT, TC_ACT_UNSPEC, testRunPacket } from '../../bpf/prog-test-run.js';
import { interfaceIndex } from '../../bpf/tc-attach.js';
import { CT_DIRECTION, CT_STATE, CT_VERDICT, ctNow, type CtKey } from '../../datapath/ct-map.js';
import { NodeTc, type NodeTcComponent } from '../../datapath/node-tc.js';
import type { NodeCtEntry } from '../../datapath/node-ct-map.js';
import { Reconciler } from '../../datapath/reconciler.js';
import { openPinnedDatapath, uninstallSockDatapath } from '../../datapath/sock-datapath.js';
import { buildFrame, TCP, type Flow } from '../../lab/packet-frames.js';
import { PodNetwork } from '../../lab/pod-network.js';
import type { SuiteRow, SuiteSection } from '../report/suite-result.js';
import type { Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import type { Problems } from './run-checks.js';
import { sample } from './samples.js';

/** Runs of a pass path in one test run call (its mean is the sample). */
const PASS_REPEAT = 100_000;
/** Calls of a once-a-call path per sample (its median is the sample); new flows of the remote
 * backend each claim a source-NAT port of the 4,536, so fewer than that in all. */
const SINGLE_CALLS = 1000;

interface PathSpec {
  label: string;
  program: 'slb_node_from_world' | 'slb_node_to_world';
  /** The frame of call i (new flows: each its own client port). */
  frame: (i: number) => Buffer;
  /** Runs many times in one call: the frame comes out as it went in. */
  pass: boolean;
  verdict: number;
  /** The device it is on: ext0 faces the client, ext1 the other node. */
  device: 'ext0' | 'ext1';
}

const LOCAL_PORT = 30080;
const REMOTE_PORT = 30081;
const REMOTE = '10.244.1.10';
const SNAT_PORT = 61234;

export async function nodePathsSection(profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const net = PodNetwork.create();
  const bpffs = net.labRun.bpffs('bench');
  let node: NodeTcComponent | undefined;
  let lb: ReturnType<typeof openPinnedDatapath> | undefined;
  try {
    const pod = net.addPod('be-1');
    const world = net.addOutside('world');
    const peer = net.addOutside('peer', { addresses: [`${REMOTE}/32`], routedToIt: ['10.244.1.0/24'] });
    node = NodeTc.install(bpffs, { devices: ['ext*'] });
    lb = openPinnedDatapath(bpffs);
    const inNode = <T>(fn: () => T): T => inNetns(net.nodeNetnsPath, fn);
    inNode(() => node!.sync());
    const ext0 = inNode(() => interfaceIndex(world.device));
    const ext1 = inNode(() => interfaceIndex(peer.device));
    Reconciler.adopt(lb.maps).apply([
      { owner: 'bench/np-local', frontend: { address: world.nodeIpv4, port: LOCAL_PORT, protocol: 'TCP' }, backends: [{ address: pod.ipv4, port: 8080 }], reach: 'external' },
      { owner: 'bench/np-remote', frontend: { address: world.nodeIpv4, port: REMOTE_PORT, protocol: 'TCP' }, backends: [{ address: REMOTE, port: 8080 }], reach: 'external' },
    ]);
    const { paths, reseed } = pathSpecs(node, { client: world.ipv4, nodeAddress: world.nodeIpv4, nodeOut: peer.nodeIpv4, pod: pod.ipv4, ext0, ext1 });
    const fds = node.programFds;
    const ifindex = { ext0, ext1 };
    const samples = new Map<string, number[]>(paths.map((p) => [p.label, []]));
    const overheads: number[] = [];
    for (let rep = 0; rep < profile.repetitions; rep++) {
      // Every repetition from the same table: the seeded flows, none of the last one's new flows
      // (each remote one holds a source-NAT port).
      reseed();
      // The per-call overhead of a test run: one pass path run once a call, against its mean.
      const probe = paths.find((p) => p.pass)!;
      const once = inNode(() => median(Array.from({ length: SINGLE_CALLS }, () => testRunPacket(fds.get(probe.program)!, probe.frame(0), probe.label, { ifindex: ext0, ingressIfindex: ext0 }).durationNs)));
      const mean = inNode(() => testRunPacket(fds.get(probe.program)!, probe.frame(0), probe.label, { ifindex: ext0, ingressIfindex: ext0 }, PASS_REPEAT).durationNs);
      const overhead = Math.max(0, once - mean);
      overheads.push(overhead);
      for (const spec of paths) {
        const fd = fds.get(spec.program)!;
        const skb = { ifindex: ifindex[spec.device], ingressIfindex: ifindex[spec.device] };
        let ns: number;
        if (spec.pass) {
          const r = inNode(() => testRunPacket(fd, spec.frame(0), spec.label, skb, PASS_REPEAT));
          if (r.retval !== spec.verdict) problems.push(`node-paths ${spec.label}: verdict ${r.retval}, expected ${spec.verdict}`);
          ns = r.durationNs;
        } else {
          const runs = inNode(() =>
            Array.from({ length: SINGLE_CALLS }, (_, i) => {
              const r = testRunPacket(fd, spec.frame(i), spec.label, skb);
              if (r.retval !== spec.verdict) problems.push(`node-paths ${spec.label}: verdict ${r.retval}, expected ${spec.verdict}`);
              return r.durationNs;
            }),
          );
          ns = Math.max(0, median(runs) - overhead);
        }
        samples.get(spec.label)!.push(ns);
        progress(`node-paths ${rep + 1}/${profile.repetitions} ${spec.label}: ${ns.toFixed(0)} ns`);
      }
    }
    const rows: SuiteRow[] = paths.map((p) => ({ mode: p.label, values: { ns: sample(samples.get(p.label)!) } }));
    return {
      id: 'node-paths',
      title: "NodeTc's paths: ns per packet (BPF_PROG_TEST_RUN)",
      description:
        `What slb_node_from_world (ingress of the node's external devices) and slb_node_to_world (their egress) cost an IPv4 TCP packet on each path, measured by the kernel: ` +
        `packets they pass (traffic the node forwards, the node's own traffic, a port of the source NAT's range without a flow) as the mean of ${PASS_REPEAT.toLocaleString('en-US')} runs in one call; ` +
        `tracked flows' packets and new flows (SYN to a backend on this node; to one on another node, source-NATed: a port claimed, two entries written, a route lookup) as the median of ${SINGLE_CALLS} calls, less the test run's own per-call overhead. ` +
        `${profile.repetitions} repetitions.`,
      metrics: [{ id: 'ns', label: 'ns/packet', higherIsBetter: false }],
      primary: 'ns',
      rows,
      unavailable: [],
      notes: [`The test run's per-call overhead taken off the once-a-call paths: ${overheads.map((o) => o.toFixed(0)).join(', ')} ns (one per repetition: a pass path's median once a call less its mean over many runs).`],
    };
  } finally {
    lb?.close();
    node?.close();
    uninstallSockDatapath(bpffs);
    const left = await net.destroy();
    if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
  }
}

interface Addresses {
  client: string;
  nodeAddress: string;
  /** The node's address towards the other node, where source-NATed flows leave from. */
  nodeOut: string;
  pod: string;
  ext0: number;
  ext1: number;
}

/** Every path, and reseed(): the flow table emptied, then the tracked flows' entries as their
 * first packets make them. */
function pathSpecs(node: NodeTcComponent, a: Addresses): { paths: PathSpec[]; reseed: () => void } {
  const seeds: [CtKey, NodeCtEntry][] = [];
  const seed = (f: Flow, direction: number, verdict: number, nat: { address: string; port: number }, snat: NodeCtEntry['snat'] = { address: '::', port: 0, ifindex: 0 }): void => {
    const key: CtKey = { src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, protocol: 6, direction };
    // An hour: the section's calls never see them expire.
    seeds.push([key, { ct: { expires: ctNow() + 3600, state: CT_STATE.established, verdict, nat: { ...nat, backend_id: 1 } }, snat }]);
  };
  const reseed = (): void => {
    node.ct.deleteMany(node.ct.keys());
    node.ct.setMany(seeds);
  };
  const ack = { protocol: 'tcp' as const, flags: TCP.ACK, payload: Buffer.from('x') };
  const local: Flow = { ...ack, src: a.client, dst: a.nodeAddress, sport: 40000, dport: LOCAL_PORT };
  const localReply: Flow = { ...ack, src: a.pod, dst: a.client, sport: 8080, dport: 40000 };
  seed(local, CT_DIRECTION.forward, CT_VERDICT.dnat, { address: a.pod, port: 8080 });
  seed(localReply, CT_DIRECTION.reply, CT_VERDICT.revnat, { address: a.nodeAddress, port: LOCAL_PORT });
  const remote: Flow = { ...ack, src: a.client, dst: a.nodeAddress, sport: 40001, dport: REMOTE_PORT };
  const remoteReply: Flow = { ...ack, src: REMOTE, dst: a.nodeOut, sport: 8080, dport: SNAT_PORT };
  seed(remote, CT_DIRECTION.forward, CT_VERDICT.dnat | CT_VERDICT.snat, { address: REMOTE, port: 8080 }, { address: a.nodeOut, port: SNAT_PORT, ifindex: a.ext1 });
  seed(remoteReply, CT_DIRECTION.reply, CT_VERDICT.revnat | CT_VERDICT.rev_snat, { address: a.nodeAddress, port: REMOTE_PORT }, { address: a.client, port: 40001, ifindex: a.ext0 });
  const fixed = (f: Flow) => () => buildFrame(f);
  // New flows' client ports: one per call, below the seeded flows'.
  const syn = (dport: number) => (i: number) => buildFrame({ src: a.client, dst: a.nodeAddress, sport: 1024 + i, dport, protocol: 'tcp', flags: TCP.SYN });
  const paths: PathSpec[] = [
    { label: 'pass: traffic the node forwards', program: 'slb_node_from_world', frame: fixed({ ...ack, src: a.client, dst: '198.51.100.7', sport: 40100, dport: 443 }), pass: true, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: "pass: the node's own traffic (port 22)", program: 'slb_node_from_world', frame: fixed({ ...ack, src: a.client, dst: a.nodeAddress, sport: 40100, dport: 22 }), pass: true, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: 'pass: a source-NAT port without a flow', program: 'slb_node_from_world', frame: fixed({ ...ack, src: a.client, dst: a.nodeAddress, sport: 40100, dport: 61500 }), pass: true, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: "pass: the node's own traffic out", program: 'slb_node_to_world', frame: fixed({ ...ack, src: a.nodeAddress, dst: a.client, sport: 22, dport: 40100 }), pass: true, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: 'tracked, local backend', program: 'slb_node_from_world', frame: fixed(local), pass: false, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: 'tracked reply, local backend (out)', program: 'slb_node_to_world', frame: fixed(localReply), pass: false, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: 'tracked, remote backend (source NAT)', program: 'slb_node_from_world', frame: fixed(remote), pass: false, verdict: TC_ACT_REDIRECT, device: 'ext0' },
    { label: 'tracked reply, remote backend', program: 'slb_node_from_world', frame: fixed(remoteReply), pass: false, verdict: TC_ACT_REDIRECT, device: 'ext1' },
    { label: 'new flow, local backend', program: 'slb_node_from_world', frame: syn(LOCAL_PORT), pass: false, verdict: TC_ACT_UNSPEC, device: 'ext0' },
    { label: 'new flow, remote backend (source NAT)', program: 'slb_node_from_world', frame: syn(REMOTE_PORT), pass: false, verdict: TC_ACT_REDIRECT, device: 'ext0' },
  ];
  return { paths, reseed };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}
