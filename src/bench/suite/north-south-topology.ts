// The north-south bench topology: a client outside the node ("world", on the node's device
// ext0) making short connections to a NodePort on the node's ext0 address, in two cases:
//   local   the service's backends are pods on this node (their way back to the outside
//           subnet is via the node, as a default route would be);
//   remote  its backend is a pod of another node, held by the outside host "peer" on ext1,
//           which the node routes that node's pod CIDR to.
// Modes, one at a time in the packet path of the same node namespace:
//   socket    socklb's datapath as the agent composes it with --node-devices ext* in socket
//             mode (socket hooks on the run's cgroup, NodeTc on the ext devices): local backends
//             get the client's address, the remote one is source-NATed to the node's ext1 address
//   iptables  kube-proxy's iptables-mode rules for a NodePort with externalTrafficPolicy
//             Cluster: every connection from outside is masqueraded
//   nftables  kube-proxy's nftables-mode rules for the same (service-nodeports, the node's
//             ext addresses in nodeport-ips)
//   direct    no service: the client goes to the backends' own addresses (routed by the node)
// The client never runs in the run's cgroup: it is outside the node.
import { inNetns } from '../../bpf/netns.js';
import { objectId } from '../../bpf/bpf-object.js';
import { NODE_TC_HANDLE } from '../../bpf/tc-attach.js';
import { CT_DIRECTION } from '../../datapath/ct-map.js';
import { installDatapath, type Datapath } from '../../datapath/datapath.js';
import { modeComponents } from '../../datapath/datapath-mode.js';
import type { NodeTcComponent } from '../../datapath/node-tc.js';
import { uninstallSockDatapath } from '../../datapath/sock-datapath.js';
import { detachTcFrom } from '../../datapath/tc-datapath.js';
import type { DesiredService } from '../../model/desired-services.js';
import { benchToolPath } from '../../install-paths.js';
import { run } from '../../lab/command.js';
import { waitForLine } from '../../lab/lab-processes.js';
import { LAB_SERVICE_CIDRS, NODE_V4, PodNetwork, type OutsideHost, type Pod } from '../../lab/pod-network.js';
import { installIptablesMode, POD_CIDR_V4, type IptablesMode } from '../baselines/iptables-node.js';
import { installNftablesMode, type NftablesMode } from '../baselines/nftables-node.js';
import type { BenchMode } from './bench-topology.js';
import { crrClientRun, type ClientRun } from './crr-client-run.js';

export const NORTH_SOUTH_MODES = ['socket', 'iptables', 'nftables', 'direct'] as const satisfies readonly BenchMode[];
export type NorthSouthMode = (typeof NORTH_SOUTH_MODES)[number];

export const NORTH_SOUTH_CASES = ['local', 'remote'] as const;
export type NorthSouthCase = (typeof NORTH_SOUTH_CASES)[number];

const BACKEND_PORT = 8080;
/** The NodePort of each case's service, on the node's ext0 address. */
const NODE_PORTS: Record<NorthSouthCase, number> = { local: 30080, remote: 30081 };
const CLUSTER_IPS: Record<NorthSouthCase, string> = { local: '10.96.0.10', remote: '10.96.0.20' };
/** The other node's pod CIDR and its one pod, on the outside host "peer". */
const REMOTE_POD_CIDR = '10.244.1.0/24';
const REMOTE_POD = '10.244.1.10';

export class NorthSouthTopology {
  private active: NorthSouthMode | undefined;
  private datapath?: Datapath;
  private nodeTc?: NodeTcComponent;
  private iptables?: IptablesMode;
  private nftables?: NftablesMode;
  private readonly locals: Pod[] = [];
  private world!: OutsideHost;
  private peer!: OutsideHost;

  private constructor(
    readonly net: PodNetwork,
    private readonly bpffs: string,
  ) {}

  /** Builds everything; on failure removes what it built. */
  static async create(opts: { backends: number }, progress: (s: string) => void): Promise<NorthSouthTopology> {
    const net = PodNetwork.create();
    const topo = new NorthSouthTopology(net, net.labRun.bpffs('bench-ns'));
    try {
      await topo.build(opts.backends, progress);
      return topo;
    } catch (err) {
      await topo.destroy();
      throw err;
    }
  }

  private async build(backends: number, progress: (s: string) => void): Promise<void> {
    if (backends > 254) throw new Error('at most 254 local backends (crr servers answer with a one-byte ID, the remote one with the next)');
    // The client reaches the pods of both nodes through this node (for direct runs).
    this.world = this.net.addOutside('world', { via: [POD_CIDR_V4] });
    // The other node answers direct runs' clients through this node too.
    this.peer = this.net.addOutside('peer', { addresses: [`${REMOTE_POD}/32`], routedToIt: [REMOTE_POD_CIDR], via: [`${this.world.ipv4}/32`] });
    for (let i = 0; i < backends; i++) {
      const pod = this.net.addPod(`be-${i}`);
      // A pod's default route would take its answers to the client (which keeps its address
      // in socket mode) to the node.
      run('ip', ['-n', pod.netns, 'route', 'add', `${this.world.ipv4}/32`, 'via', NODE_V4]);
      this.locals.push(pod);
    }
    const servers = [...this.locals.map((p) => p.name), 'peer'].map((where, id) => {
      const server = this.net.spawn(where, benchToolPath('crr'), ['server', String(BACKEND_PORT), String(id)], { inCgroup: false });
      return waitForLine(server, /^listening$/, 10_000, `crr server in ${where}`);
    });
    await Promise.all(servers);
    const services = this.services();
    this.datapath = inNetns(this.net.nodeNetnsPath, () =>
      installDatapath({
        bpffs: this.bpffs,
        components: modeComponents('socket', { cgroup: this.net.cgroup.path, podInterfaces: ['veth*'], serviceCidrs: LAB_SERVICE_CIDRS, nodeDevices: ['ext*'] }),
      }),
    );
    this.nodeTc = this.datapath.components.find((c) => c.name === 'node-tc') as NodeTcComponent;
    const report = this.datapath.reconciler.apply(services);
    if (report.errors.length > 0) throw new Error(`socklb could not program ${report.errors[0]!.owner}: ${report.errors[0]!.message}`);
    this.iptables = installIptablesMode(this.net, services, 'nft', [this.world.nodeIpv4, this.peer.nodeIpv4, NODE_V4]);
    this.nftables = installNftablesMode(this.net, services, [this.world.nodeIpv4, this.peer.nodeIpv4]);
    this.activate('direct');
    progress(`north-south topology: ${backends} backend pods on this node, 1 on another node (${REMOTE_POD} on outside host peer), client on ext0, NodePorts ${Object.values(NODE_PORTS).join(', ')} on ${this.world.nodeIpv4}`);
  }

  /** Each case's service: a cluster IP and a NodePort (the node's ext0 address), eTP Cluster. */
  private services(): DesiredService[] {
    return NORTH_SOUTH_CASES.flatMap((c) => {
      const backends = (c === 'local' ? this.locals.map((p) => p.ipv4) : [REMOTE_POD]).map((address) => ({ address, port: BACKEND_PORT }));
      const owner = `bench/north-south-${c}:http`;
      return [
        { frontend: { address: CLUSTER_IPS[c], port: 80, protocol: 'TCP' as const }, backends, owner },
        { frontend: { address: this.world.nodeIpv4, port: NODE_PORTS[c], protocol: 'TCP' as const }, backends, owner, reach: 'external' as const },
      ];
    });
  }

  /** Only `mode`'s machinery in the packet path: NodeTc's programs are on the ext devices for
   * socket runs only (they would translate the NodePort before iptables saw it). */
  private activate(mode: NorthSouthMode): void {
    if (mode === this.active) return;
    this.iptables?.enable(mode === 'iptables');
    this.nftables?.enable(mode === 'nftables');
    const nodeTc = this.nodeTc;
    if (nodeTc)
      inNetns(this.net.nodeNetnsPath, () => {
        if (mode === 'socket') nodeTc.sync();
        else for (const host of [this.world, this.peer]) detachTcFrom(host.device, NODE_TC_HANDLE);
      });
    this.active = mode;
  }

  private nodeFlows(): number {
    return this.nodeTc?.ct.entries().filter(([k]) => k.direction === CT_DIRECTION.forward).length ?? 0;
  }

  /** Each run starts from empty tables, so the counts after it are that run's own state. */
  private clearFlows(): void {
    run('ip', ['netns', 'exec', this.net.nodeNetns, 'conntrack', '-F']);
    const keys = this.nodeTc?.ct.entries().map(([k]) => k) ?? [];
    if (keys.length) this.nodeTc!.ct.deleteMany(keys);
  }

  /** NodeTc's programs by kernel id (named: the kernel keeps 15 characters of a name). */
  nodePrograms(): Map<number, string> {
    return new Map([...(this.nodeTc?.programFds ?? new Map<string, number>())].map(([name, fd]) => [objectId(fd, name), name]));
  }

  /** Names of a case's backends by their servers' IDs. */
  backendsOf(c: NorthSouthCase): (string | undefined)[] {
    const names: (string | undefined)[] = [];
    if (c === 'local') this.locals.forEach((p, i) => (names[i] = p.name));
    else names[this.locals.length] = 'peer';
    return names;
  }

  /** One run of short connections (crr) from the outside client in `mode` for `c`: to the
   * NodePort on the node's ext0 address, or (direct) to the backends' addresses in turn. */
  async run(mode: NorthSouthMode, c: NorthSouthCase, opts: { durationMs: number; max?: number }): Promise<ClientRun> {
    this.activate(mode);
    this.clearFlows();
    const direct = c === 'local' ? this.locals.map((p) => p.ipv4) : [REMOTE_POD];
    const [hosts, port] = mode === 'direct' ? [direct.join(','), BACKEND_PORT] : [this.world.nodeIpv4, NODE_PORTS[c]];
    return crrClientRun({
      net: this.net,
      from: 'world',
      args: ['client', hosts, String(port), String(opts.durationMs), ...(opts.max ? [String(opts.max)] : [])],
      inCgroup: false,
      mode,
      durationMs: opts.durationMs,
      backends: this.backendsOf(c),
      socklbFlows: () => this.nodeFlows(),
    });
  }

  async destroy(): Promise<string[]> {
    this.iptables?.enable(false);
    this.nftables?.enable(false);
    this.datapath?.close();
    try {
      uninstallSockDatapath(this.bpffs);
    } catch {
      // nothing was pinned
    }
    return this.net.destroy();
  }
}
