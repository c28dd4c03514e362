// One bench topology in namespaces of its own: a client pod, backend pods each running a crr
// server that answers with its own ID, N services (the measured one last), and every mode
// ready on the same node namespace, switched on one at a time:
//   socket     socklb's socket programs on the run's cgroup; the client runs in it
//   conntrack  socklb's tc programs on the pods' interfaces (attached for its runs only)
//   iptables / nftables / ipvs   kube-proxy's layouts, hooked in for their runs only
//   iptables-legacy  kube-proxy's iptables layout on the x_tables backend: never with other
//              modes (its tables stay hooked in once loaded), so only on a topology of its own
//   direct     no load balancer: the client goes to the backends' own addresses in turn
// All modes program the same services from the same DesiredService list; a topology built for
// some modes only installs nothing of the others.
import type { ChildProcess } from 'node:child_process';
import { linkedProgramIds } from '../../bpf/cgroup-links.js';
import { inNetns } from '../../bpf/netns.js';
import { interfaceIndex, queryTc } from '../../bpf/tc-attach.js';
import { linkDir } from '../../datapath/datapath-object.js';
import { interfacesWithTcFilters } from '../../datapath/tc-datapath.js';
import type { DesiredService } from '../../model/desired-services.js';
import { Reconciler } from '../../datapath/reconciler.js';
import { uninstallSockDatapath } from '../../datapath/sock-datapath.js';
import { CT_DIRECTION } from '../../datapath/ct-map.js';
import { PodTc, type PodTcComponent } from '../../datapath/pod-tc.js';
import { SocketHooks, type SocketHooksComponent } from '../../datapath/socket-hooks.js';
import { benchToolPath } from '../../install-paths.js';
import { run } from '../../lab/command.js';
import { waitForLine } from '../../lab/lab-processes.js';
import { LAB_SERVICE_CIDRS, PodNetwork, type Pod, type PodNetworkShape } from '../../lab/pod-network.js';
import { installIptablesMode, type IptablesMode } from '../baselines/iptables-node.js';
import { installIpvsMode, ipvsAvailability, type IpvsMode } from '../baselines/ipvs-node.js';
import { installNftablesMode, type NftablesMode } from '../baselines/nftables-node.js';
import { busyCpuMicros } from './cpu-accounting.js';
import { crrClientRun, type ClientRun } from './crr-client-run.js';

export type { ClientRun };

export const BENCH_MODES = ['socket', 'conntrack', 'iptables', 'iptables-legacy', 'nftables', 'ipvs', 'direct'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

/** What a topology runs unless told otherwise: every mode that can share one node namespace. */
export const SHARED_MODES: readonly BenchMode[] = BENCH_MODES.filter((m) => m !== 'iptables-legacy');

export interface TopologyOptions {
  backends: number;
  services: number;
  /** The modes to make ready (default SHARED_MODES); iptables-legacy only alone or with direct
   * runs made before it, which the caller orders. */
  modes?: readonly BenchMode[];
  /** The pod network (default bridge). */
  shape?: PodNetworkShape;
  /** Pods without a server besides the client and backends (idle-0 ...): what the node's
   * per-interface work scales with (the policy section's 120 pods). */
  idlePods?: number;
}

/** crr: a new connection per request; rr: one connection, many requests; udp: datagrams on one
 * socket; peer: crr that checks getpeername(); dns: a connected UDP socket per exchange. */
export type Workload = 'crr' | 'rr' | 'udp' | 'peer' | 'dns';

export const VIP = '10.96.0.10';
const VIP_PORT = 80;
const BACKEND_PORT = 8080;
/** Bulk throughput: iperf3's control and data connections must reach the same server, so its
 * service has one backend (the first pod). */
const BULK_VIP = '10.96.0.11';
const BULK_PORT = 5201;

export interface BulkRun {
  mode: BenchMode;
  gbitPerSec: number;
  /** Busy CPU of the whole machine per gigabyte received. */
  cpuMsPerGb: number;
}

/** Everything a child prints, once it exits; fails after limitMs. */
function collectStdout(child: ChildProcess, limitMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${limitMs} ms`));
    }, limitMs);
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    // 'close', not 'exit': the output is all read only once the streams closed.
    child.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Filler services ahead of the measured one: VIPs in 10.96.128.0/17, endpoints that exist nowhere. */
function fillerServices(n: number): DesiredService[] {
  return Array.from({ length: n }, (_, i) => ({
    frontend: { address: `10.96.${128 + (i >> 8)}.${i & 255}`, port: VIP_PORT, protocol: 'TCP' as const },
    backends: [{ address: `10.245.${i >> 8}.${i & 255}`, port: BACKEND_PORT }],
    owner: `bench/filler-${i}:http`,
  }));
}

export class BenchTopology {
  private active: BenchMode | undefined;
  readonly unavailable = new Map<BenchMode, string>();
  private iptables?: IptablesMode;
  private iptablesLegacy?: IptablesMode;
  private nftables?: NftablesMode;
  private ipvs?: IpvsMode;
  private sock?: SocketHooksComponent;
  private tc?: PodTcComponent;
  private readonly backends: Pod[] = [];

  private constructor(
    readonly net: PodNetwork,
    private readonly bpffs: string,
    private readonly wanted: readonly BenchMode[],
  ) {}

  /** Builds everything; on failure removes what it built. */
  static async create(opts: TopologyOptions, progress: (s: string) => void): Promise<BenchTopology> {
    const net = PodNetwork.create(opts.shape);
    const topo = new BenchTopology(net, net.labRun.bpffs('bench'), opts.modes ?? SHARED_MODES);
    try {
      await topo.build(opts, progress);
      return topo;
    } catch (err) {
      await topo.destroy();
      throw err;
    }
  }

  private async build(opts: TopologyOptions, progress: (s: string) => void): Promise<void> {
    if (opts.backends > 255) throw new Error('at most 255 backends (crr servers answer with a one-byte ID)');
    this.net.addPod('client');
    // Before any server starts: its readiness wait would otherwise include their creation.
    for (let i = 0; i < (opts.idlePods ?? 0); i++) this.net.addPod(`idle-${i}`);
    // Every pod first: at 150 pods their creation takes longer than a server's readiness wait.
    for (let i = 0; i < opts.backends; i++) this.backends.push(this.net.addPod(`be-${i}`));
    const started = [];
    for (const [i, pod] of this.backends.entries()) {
      const server = this.net.spawn(pod.name, benchToolPath('crr'), ['server', String(BACKEND_PORT), String(i)], { inCgroup: false });
      started.push(waitForLine(server, /^listening$/, 10_000, `crr server in ${pod.name}`));
    }
    const bulk = this.net.spawn(this.backends[0]!.name, 'iperf3', ['--server', '--port', String(BULK_PORT), '--bind', this.backends[0]!.ipv4, '--forceflush'], { inCgroup: false });
    started.push(waitForLine(bulk, /Server listening/, 10_000, 'iperf3 server'));
    await Promise.all(started);
    const backends = this.backends.map((p) => ({ address: p.ipv4, port: BACKEND_PORT }));
    const services: DesiredService[] = [
      ...fillerServices(opts.services - 1),
      { frontend: { address: BULK_VIP, port: BULK_PORT, protocol: 'TCP' }, backends: [{ address: this.backends[0]!.ipv4, port: BULK_PORT }], owner: 'bench/iperf3:data' },
      { frontend: { address: VIP, port: VIP_PORT, protocol: 'TCP' }, backends, owner: 'bench/crr:http' },
      { frontend: { address: VIP, port: VIP_PORT, protocol: 'UDP' }, backends, owner: 'bench/crr:udp' },
    ];
    const wants = (m: BenchMode): boolean => this.wanted.includes(m);
    if (wants('socket') || wants('conntrack')) {
      // Both components on the same maps; the socket hooks stay attached (only the client of a
      // socket run is in the cgroup), the tc programs are on the pods' interfaces for conntrack runs only.
      // Told the service CIDRs, as a cluster's agent is (--service-cidrs).
      this.sock = SocketHooks.install(this.bpffs, { cgroup: this.net.cgroup.path, serviceCidrs: LAB_SERVICE_CIDRS });
      this.tc = PodTc.install(this.bpffs, { podInterfaces: ['veth*'], serviceCidrs: LAB_SERVICE_CIDRS });
      const report = Reconciler.adopt(this.sock.maps).apply(services);
      if (report.errors.length > 0) throw new Error(`socklb could not program ${report.errors[0]!.owner}: ${report.errors[0]!.message}`);
      this.sock.attach();
    }
    if (wants('iptables')) this.iptables = installIptablesMode(this.net, services, 'nft');
    if (wants('iptables-legacy')) this.iptablesLegacy = installIptablesMode(this.net, services, 'legacy');
    if (wants('nftables')) this.nftables = installNftablesMode(this.net, services);
    if (wants('ipvs')) {
      const ipvs = ipvsAvailability();
      if (ipvs.available) this.ipvs = installIpvsMode(this.net, services);
      else this.unavailable.set('ipvs', ipvs.reason);
    }
    const rules = (this.iptables ?? this.iptablesLegacy)?.serviceRules;
    progress(`topology (${this.net.shape} pod network): ${opts.backends} backend pods, ${opts.services} services (the measured one last${rules === undefined ? '' : `; ${rules} rules in KUBE-SERVICES`}), modes ${this.modes.join(', ')}`);
  }

  /** Where this topology's maps are pinned (other components load against them). */
  get pinDir(): string {
    return this.bpffs;
  }

  /** Every mode's machinery out of the packet path, so the next run sets its own up afresh. */
  resetModes(): void {
    this.iptables?.enable(false);
    this.nftables?.enable(false);
    this.ipvs?.enable(false);
    const tc = this.tc;
    if (tc) inNetns(this.net.nodeNetnsPath, () => tc.detachInterfaces());
    this.active = undefined;
  }

  get modes(): BenchMode[] {
    return this.wanted.filter((m) => !this.unavailable.has(m));
  }

  /** Only `mode`'s machinery in the packet path. */
  private activate(mode: BenchMode): void {
    if (mode === this.active) return;
    if (!this.modes.includes(mode)) throw new Error(`mode ${mode} is not ready on this topology (modes: ${this.modes.join(', ')})`);
    this.iptables?.enable(mode === 'iptables');
    this.iptablesLegacy?.enable(mode === 'iptables-legacy');
    this.nftables?.enable(mode === 'nftables');
    this.ipvs?.enable(mode === 'ipvs');
    // The node namespace is where the pods' host-side interfaces are; never the bench's own.
    const tc = this.tc;
    if (tc) inNetns(this.net.nodeNetnsPath, () => (mode === 'conntrack' ? tc.sync() : tc.detachInterfaces()));
    this.active = mode;
  }

  private clearConntrack(): void {
    run('ip', ['netns', 'exec', this.net.nodeNetns, 'conntrack', '-F']);
    const keys = this.tc?.ct.entries().map(([k]) => k) ?? [];
    if (keys.length) this.tc!.ct.deleteMany(keys);
  }

  /**
   * One client run of `mode`. target "service" goes to the VIP (direct: to the backends in
   * turn); "pods" sends every mode straight to the backends, measuring what each mode costs
   * traffic that is not for a service.
   */
  async run(
    mode: BenchMode,
    workload: Workload,
    opts: { durationMs: number; max?: number; target?: 'service' | 'pods'; v4Mapped?: boolean; prepare?: () => void },
  ): Promise<ClientRun> {
    this.activate(mode);
    // What a caller adds to the mode (the policy section's policies), once the mode is in place.
    opts.prepare?.();
    // Each run starts from empty tables, so the counts after it are that run's own state.
    this.clearConntrack();
    const toPods = mode === 'direct' || opts.target === 'pods';
    // Straight to the pods, short connections and datagrams go to each backend in turn, as
    // socket mode spreads them; a long connection stays on one, as through a VIP.
    const targets = toPods ? (workload === 'rr' ? [this.backends[0]!.ipv4] : this.backends.map((b) => b.ipv4)) : [VIP];
    // From IPv6 sockets, to the same IPv4 addresses: the IPv6 hooks with v4-mapped addresses.
    const hosts = targets.map((a) => (opts.v4Mapped ? `::ffff:${a}` : a)).join(',');
    const port = toPods ? BACKEND_PORT : VIP_PORT;
    const verb = workload === 'crr' ? 'client' : workload;
    const args = [verb, hosts, String(port), String(opts.durationMs), ...(opts.max ? [String(opts.max)] : [])];
    return crrClientRun({
      net: this.net,
      from: 'client',
      args,
      inCgroup: mode === 'socket',
      mode,
      durationMs: opts.durationMs,
      backends: this.backendNames,
      socklbFlows: () => this.tc?.ct.entries().filter(([k]) => k.direction === CT_DIRECTION.forward).length ?? 0,
    });
  }

  /** Bulk TCP throughput of `mode` with iperf3 (one stream, client to server) for durationMs. */
  async bulk(mode: BenchMode, durationMs: number): Promise<BulkRun> {
    this.activate(mode);
    this.clearConntrack();
    const host = mode === 'direct' ? this.backends[0]!.ipv4 : BULK_VIP;
    const seconds = Math.max(1, Math.round(durationMs / 1000));
    const cpuBefore = busyCpuMicros();
    const client = this.net.spawn('client', 'iperf3', ['--client', host, '--port', String(BULK_PORT), '--time', String(seconds), '--json'], { inCgroup: mode === 'socket' });
    const out = await collectStdout(client, durationMs + 30_000, `iperf3 client (${mode})`);
    const cpu = busyCpuMicros() - cpuBefore;
    const report = JSON.parse(out) as { error?: string; end?: { sum_received?: { bytes: number; seconds: number } } };
    const received = report.end?.sum_received;
    if (report.error || !received) throw new Error(`iperf3 through ${mode}: ${report.error ?? 'no result'}`);
    return { mode, gbitPerSec: (received.bytes * 8) / received.seconds / 1e9, cpuMsPerGb: cpu / 1000 / (received.bytes / 1e9) };
  }

  /** The programs `mode` runs, by kernel id: socket mode's links in this topology's bpffs (named
   * by their pins: the kernel keeps only 15 characters of a name), conntrack mode's tc filters
   * on the pods' interfaces (one program serves them all; named by the kernel). */
  programs(mode: 'socket' | 'conntrack'): Map<number, string | undefined> {
    if (mode === 'socket') return new Map([...linkedProgramIds(linkDir(this.bpffs))].map(([name, id]) => [id, name]));
    this.activate('conntrack');
    return inNetns(this.net.nodeNetnsPath, () => {
      const ids = new Map<number, string | undefined>();
      for (const name of interfacesWithTcFilters())
        for (const direction of ['ingress', 'egress'] as const) {
          const id = queryTc(interfaceIndex(name), direction, name);
          if (id !== undefined) ids.set(id, undefined);
        }
      return ids;
    });
  }

  get backendNames(): string[] {
    return this.backends.map((b) => b.name);
  }

  get backendAddresses(): string[] {
    return this.backends.map((b) => b.ipv4);
  }

  async destroy(): Promise<string[]> {
    this.tc?.close();
    this.sock?.close();
    try {
      uninstallSockDatapath(this.bpffs);
    } catch {
      // nothing was pinned
    }
    return this.net.destroy();
  }
}
