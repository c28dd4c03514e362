// A mini cluster network in namespaces this run creates: a "node" namespace and one namespace
// per pod, wired in one of the pod-network shapes the article compares:
//   bridge   (default) a bridge in the node namespace, each pod on it by a veth pair; pods
//            reach each other over the bridge (flannel's and kubenet's shape).
//   routed   a veth pair per pod and no bridge: the pod's address is a /32 (/128), its only
//            routes go to a gateway the node answers for, and the node has a /32 (/128) route
//            per pod to its host-side veth (Calico's and Cilium's shape).
//   macvlan  each pod's interface is a MacVlan of one parent device in the node namespace
//            (bridge mode): pod to pod traffic never enters the node's L3, the case the
//            article was written for (this kernel has MacVlan, not IPVlan); the node holds a
//            MacVlan of its own as the pods' gateway for the service ranges.
// In every shape the service ranges route to the node namespace, which blackholes them, and
// the pods have no other routes, so a VIP that is not translated goes nowhere outside the
// namespaces of this run (and hangs instead of answering).
import { parseCidr, type Cidr } from '../net/cidr.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { run, tryRun } from './command.js';
import { LabRun } from './lab-run.js';
import { RunCgroup } from './run-cgroup.js';
import { HAIRPIN_ADDRESS } from '../datapath/hairpin-address.js';

export const SERVICE_CIDR_V4 = '10.96.0.0/16';
export const SERVICE_CIDR_V6 = 'fd00:96::/112';
/** Both, parsed: what a lab agent is told as --service-cidrs. */
export const LAB_SERVICE_CIDRS: readonly Cidr[] = [parseCidr(SERVICE_CIDR_V4), parseCidr(SERVICE_CIDR_V6)];
const POD_PREFIX_V4 = '10.244.0.';
const POD_PREFIX_V6 = 'fd00:244::';
/** The pod network the routed shape's pods reach through their gateway. */
const POD_CIDR_V4 = '10.244.0.0/24';
const POD_CIDR_V6 = 'fd00:244::/64';
export const NODE_V4 = `${POD_PREFIX_V4}1`;
export const NODE_V6 = `${POD_PREFIX_V6}1`;

export const POD_NETWORK_SHAPES = ['bridge', 'routed', 'macvlan'] as const;
export type PodNetworkShape = (typeof POD_NETWORK_SHAPES)[number];

/** routed: the pods' gateway, an address the node holds on lo (it answers ARP for it on every
 * pod's veth) and fe80::1 on each host-side veth, as Calico uses 169.254.1.1. */
const ROUTED_GATEWAY_V4 = '169.254.1.1';
const ROUTED_GATEWAY_V6 = 'fe80::1';
/** macvlan: the parent device (one end of a veth pair whose other end stays unused: a MacVlan
 * needs a parent with a carrier) and the node's own MacVlan. */
const MACVLAN_PARENT = 'mvparent';
const MACVLAN_NODE = 'mvnode';

export interface Pod {
  name: string;
  netns: string;
  ipv4: string;
  ipv6: string;
}

/** A namespace outside the cluster network (a client somewhere beyond the node, or another
 * node), on a link of its own to the node: `device` is the node's end, one of the node's
 * external devices. ipv4/ipv6 are its addresses on the link, nodeIpv4/nodeIpv6 the node's. */
export interface OutsideHost extends Pod {
  device: string;
  nodeIpv4: string;
  nodeIpv6: string;
}

/** What an outside host holds and the node routes to it: addresses on its lo (another node's
 * pods, say) and the CIDRs the node sends to it. Its own routes go to the node for `via`. */
export interface OutsideOptions {
  addresses?: readonly string[];
  routedToIt?: readonly string[];
  via?: readonly string[];
}

export class PodNetwork {
  readonly runId: string;
  readonly nodeNetns: string;
  readonly cgroup: RunCgroup;
  private readonly pods = new Map<string, Pod>();
  private readonly outside = new Map<string, OutsideHost>();
  private readonly children = new Set<ChildProcess>();
  private nextHost = 10;

  private constructor(
    readonly labRun: LabRun,
    readonly shape: PodNetworkShape,
  ) {
    this.runId = labRun.id;
    this.nodeNetns = `${labRun.netnsPrefix}node`;
    run('ip', ['netns', 'add', this.nodeNetns]);
    try {
      this.cgroup = new RunCgroup(labRun.cgroupName);
    } catch (err) {
      tryRun('ip', ['netns', 'del', this.nodeNetns]);
      throw err;
    }
  }

  /** Builds the node namespace and the run's cgroup; call destroy() in a finally or teardown. */
  static create(shape: PodNetworkShape = 'bridge'): PodNetwork {
    const net = new PodNetwork(LabRun.begin(), shape);
    try {
      const n = ['-n', net.nodeNetns];
      run('ip', [...n, 'link', 'set', 'lo', 'up']);
      net.buildNode(n);
      // The node routes between pods, as a real node does: conntrack mode's DNATed packets
      // (and iptables mode's) are forwarded by it; socket mode's go pod to pod over the bridge.
      run('ip', ['netns', 'exec', net.nodeNetns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.send_redirects=0']);
      run('ip', [...n, 'route', 'add', 'blackhole', SERVICE_CIDR_V4]);
      run('ip', [...n, '-6', 'route', 'add', 'blackhole', SERVICE_CIDR_V6]);
    } catch (err) {
      void net.destroy();
      throw err;
    }
    return net;
  }

  /** The node namespace's side of the shape: the bridge, the routed gateway, or the MacVlan parent. */
  private buildNode(n: string[]): void {
    if (this.shape === 'bridge') {
      run('ip', [...n, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', [...n, 'addr', 'add', `${NODE_V4}/24`, 'dev', 'br0']);
      run('ip', [...n, '-6', 'addr', 'add', `${NODE_V6}/64`, 'dev', 'br0', 'nodad']);
      run('ip', [...n, 'link', 'set', 'br0', 'up']);
    } else if (this.shape === 'routed') {
      // The node's own pod-network address and the gateway live on lo: with arp_ignore 0 the
      // node answers ARP for them on every pod's veth, so no proxy ARP is needed.
      for (const a of [`${NODE_V4}/32`, `${ROUTED_GATEWAY_V4}/32`]) run('ip', [...n, 'addr', 'add', a, 'dev', 'lo']);
      run('ip', [...n, '-6', 'addr', 'add', `${NODE_V6}/128`, 'dev', 'lo']);
    } else {
      run('ip', [...n, 'link', 'add', MACVLAN_PARENT, 'type', 'veth', 'peer', 'name', `${MACVLAN_PARENT}-peer`]);
      run('ip', [...n, 'link', 'set', `${MACVLAN_PARENT}-peer`, 'up']);
      run('ip', [...n, 'link', 'set', MACVLAN_PARENT, 'up']);
      run('ip', [...n, 'link', 'add', MACVLAN_NODE, 'link', MACVLAN_PARENT, 'type', 'macvlan', 'mode', 'bridge']);
      run('ip', [...n, 'addr', 'add', `${NODE_V4}/24`, 'dev', MACVLAN_NODE]);
      run('ip', [...n, '-6', 'addr', 'add', `${NODE_V6}/64`, 'dev', MACVLAN_NODE, 'nodad']);
      run('ip', [...n, 'link', 'set', MACVLAN_NODE, 'up']);
    }
  }

  addPod(name: string): Pod {
    const host = this.nextHost++;
    const pod: Pod = { name, netns: `${this.labRun.netnsPrefix}${name}`, ipv4: `${POD_PREFIX_V4}${host}`, ipv6: `${POD_PREFIX_V6}${host.toString(16)}` };
    run('ip', ['netns', 'add', pod.netns]);
    this.pods.set(name, pod);
    const p = ['-n', pod.netns];
    const n = ['-n', this.nodeNetns];
    const hostIf = `veth${host}`;
    if (this.shape === 'macvlan') {
      const mv = `mv${host}`;
      run('ip', [...n, 'link', 'add', mv, 'link', MACVLAN_PARENT, 'type', 'macvlan', 'mode', 'bridge']);
      run('ip', [...n, 'link', 'set', mv, 'netns', pod.netns]);
      run('ip', [...p, 'link', 'set', mv, 'name', 'eth0']);
    } else {
      run('ip', [...n, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
      run('ip', [...n, 'link', 'set', hostIf, ...(this.shape === 'bridge' ? ['master', 'br0'] : []), 'up']);
    }
    run('ip', [...p, 'link', 'set', 'lo', 'up']);
    const routed = this.shape === 'routed';
    run('ip', [...p, 'addr', 'add', `${pod.ipv4}/${routed ? 32 : 24}`, 'dev', 'eth0']);
    run('ip', [...p, '-6', 'addr', 'add', `${pod.ipv6}/${routed ? 128 : 64}`, 'dev', 'eth0', 'nodad']);
    run('ip', [...p, 'link', 'set', 'eth0', 'up']);
    if (routed) {
      run('ip', [...n, '-6', 'addr', 'add', `${ROUTED_GATEWAY_V6}/64`, 'dev', hostIf, 'nodad']);
      run('ip', [...n, 'route', 'add', `${pod.ipv4}/32`, 'dev', hostIf]);
      run('ip', [...n, '-6', 'route', 'add', `${pod.ipv6}/128`, 'dev', hostIf]);
      run('ip', [...p, 'route', 'add', ROUTED_GATEWAY_V4, 'dev', 'eth0', 'scope', 'link']);
      // Only the pod network and the service ranges, both through the node: nothing else routes.
      // (and conntrack mode's hairpin address, which a pod's default route takes to the node).
      for (const cidr of [POD_CIDR_V4, SERVICE_CIDR_V4, `${HAIRPIN_ADDRESS.v4}/32`]) run('ip', [...p, 'route', 'add', cidr, 'via', ROUTED_GATEWAY_V4, 'dev', 'eth0']);
      for (const cidr of [POD_CIDR_V6, SERVICE_CIDR_V6, `${HAIRPIN_ADDRESS.v6}/128`]) run('ip', [...p, '-6', 'route', 'add', cidr, 'via', ROUTED_GATEWAY_V6, 'dev', 'eth0']);
    } else {
      for (const cidr of [SERVICE_CIDR_V4, `${HAIRPIN_ADDRESS.v4}/32`]) run('ip', [...p, 'route', 'add', cidr, 'via', NODE_V4]);
      for (const cidr of [SERVICE_CIDR_V6, `${HAIRPIN_ADDRESS.v6}/128`]) run('ip', [...p, '-6', 'route', 'add', cidr, 'via', NODE_V6]);
    }
    return pod;
  }

  /** A host outside the cluster network, linked to the node by a veth pair whose node end is
   * ext<N> (the Nth outside host, from 0) on 198.18.N.0/24 and fd00:e<N>::/64, TEST-NET-like
   * ranges nothing else here uses; only its link and what `via` names route, so it reaches the
   * node and nothing beyond the run's namespaces. */
  addOutside(name: string, opts: OutsideOptions = {}): OutsideHost {
    const index = this.outside.size;
    const host: OutsideHost = {
      name,
      netns: `${this.labRun.netnsPrefix}${name}`,
      device: `ext${index}`,
      ipv4: `198.18.${index}.2`,
      ipv6: `fd00:e${index}::2`,
      nodeIpv4: `198.18.${index}.1`,
      nodeIpv6: `fd00:e${index}::1`,
    };
    run('ip', ['netns', 'add', host.netns]);
    this.outside.set(name, host);
    const o = ['-n', host.netns];
    const n = ['-n', this.nodeNetns];
    run('ip', [...n, 'link', 'add', host.device, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns]);
    run('ip', [...n, 'addr', 'add', `${host.nodeIpv4}/24`, 'dev', host.device]);
    run('ip', [...n, '-6', 'addr', 'add', `${host.nodeIpv6}/64`, 'dev', host.device, 'nodad']);
    run('ip', [...n, 'link', 'set', host.device, 'up']);
    run('ip', [...o, 'link', 'set', 'lo', 'up']);
    run('ip', [...o, 'addr', 'add', `${host.ipv4}/24`, 'dev', 'eth0']);
    run('ip', [...o, '-6', 'addr', 'add', `${host.ipv6}/64`, 'dev', 'eth0', 'nodad']);
    run('ip', [...o, 'link', 'set', 'eth0', 'up']);
    for (const a of opts.addresses ?? []) run('ip', [...o, ...(a.includes(':') ? ['-6'] : []), 'addr', 'add', a, 'dev', 'lo']);
    for (const cidr of opts.routedToIt ?? []) {
      const v6 = cidr.includes(':');
      run('ip', [...n, ...(v6 ? ['-6'] : []), 'route', 'add', cidr, 'via', v6 ? host.ipv6 : host.ipv4]);
    }
    for (const cidr of opts.via ?? []) {
      const v6 = cidr.includes(':');
      run('ip', [...o, ...(v6 ? ['-6'] : []), 'route', 'add', cidr, 'via', v6 ? host.nodeIpv6 : host.nodeIpv4]);
    }
    return host;
  }

  outsideHost(name: string): OutsideHost {
    const host = this.outside.get(name);
    if (!host) throw new Error(`no outside host ${name} in run ${this.runId}`);
    return host;
  }

  /** Every pod's host-side interface (none in the MacVlan shape). */
  hostInterfaces(): string[] {
    return [...this.pods.keys()].flatMap((name) => this.hostInterface(name) ?? []);
  }

  /** The interface in the node namespace that carries a pod's traffic: its host-side veth
   * (bridge, routed); none for a MacVlan pod, whose traffic the node's L3 never sees. */
  hostInterface(name: string): string | undefined {
    const pod = this.pod(name);
    return this.shape === 'macvlan' ? undefined : `veth${Number(pod.ipv4.split('.').pop())}`;
  }

  /** Deletes a pod's namespace, as a pod that goes away: its interface and address vanish and
   * packets to it go unanswered. The caller ends the pod's processes first. */
  removePod(name: string): void {
    run('ip', ['netns', 'del', this.pod(name).netns]);
    this.pods.delete(name);
  }

  /** The node namespace's file, for setns (inNetns) and nsenter. */
  get nodeNetnsPath(): string {
    return `/run/netns/${this.nodeNetns}`;
  }

  pod(name: string): Pod {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no pod ${name} in run ${this.runId}`);
    return pod;
  }

  /** Starts a command in a pod (or an outside host); with inCgroup it first joins the run's
   * cgroup, where socklb's programs are attached; with stdin its stdin is a pipe (else nothing). */
  spawn(podName: string, cmd: string, args: readonly string[], opts: { inCgroup: boolean; stdin?: boolean }): ChildProcess {
    const pod = this.outside.get(podName) ?? this.pod(podName);
    const stdio = [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] as ('pipe' | 'ignore')[];
    const child = opts.inCgroup
      ? spawn('/bin/sh', ['-c', 'echo $$ > "$1" && shift && exec ip netns exec "$@"', 'sh', this.cgroup.procsFile, pod.netns, cmd, ...args], { stdio })
      : spawn('ip', ['netns', 'exec', pod.netns, cmd, ...args], { stdio });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Ends the processes this run started (by their PIDs), then removes its cgroup and namespaces. */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    const exits = [...this.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    );
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000))]);
    try {
      await this.cgroup.remove();
    } catch (err) {
      problems.push((err as Error).message);
    }
    for (const pod of [...this.pods.values(), ...this.outside.values()]) {
      const p = tryRun('ip', ['netns', 'del', pod.netns]);
      if (p) problems.push(p);
    }
    const p = tryRun('ip', ['netns', 'del', this.nodeNetns]);
    if (p) problems.push(p);
    if (problems.length === 0) this.labRun.end();
    return problems;
  }
}
