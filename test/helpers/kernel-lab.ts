// A mini cluster for one test file: pods in namespaces of their own, the run's cgroup, a
// private bpffs directory and services file, and the real agent CLI as a child process.
// Everything is removed in teardown, also when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { runProbe, startBackend, waitForLine } from '../../src/lab/lab-processes.js';
import { PodNetwork, type Pod, type PodNetworkShape } from '../../src/lab/pod-network.js';
import type { ProbeRequest, ProbeResult } from '../../src/lab/probe-client.js';
import { toYaml } from './k8s-fixtures.js';
import { run } from '../../src/lab/command.js';
import { AgentProcess } from '../../src/lab/agent-process.js';
export { AgentProcess, type LogLine } from '../../src/lab/agent-process.js';
import { listServices } from '../../src/cli/service-list.js';
import { StatusFile } from '../../src/cli/agent-status.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { formatHostPort } from '../../src/net/ip-address.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

type Programmed = { frontend: { address: string; port: number; protocol: string }; backends: { address: string; port: number }[] };

/** "VIP:port/PROTO" to sorted "backend:port", keys sorted, so two views compare as JSON text. */
function view(services: readonly Programmed[]): Record<string, string[]> {
  return Object.fromEntries(
    services
      .map((s) => [`${formatHostPort(s.frontend.address, s.frontend.port)}/${s.frontend.protocol}`, s.backends.map((b) => formatHostPort(b.address, b.port)).sort()] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** What the pinned maps program now. */
export function programmed(bpffs: string): Record<string, string[]> {
  return view(listServices(bpffs));
}

/** The same view of desired services, for comparison. */
export function programmedView(services: readonly DesiredService[]): Record<string, string[]> {
  return view(services);
}

/** Polls until check() returns true; fails with describe() after timeoutMs. */
export async function eventually(check: () => boolean, timeoutMs: number, describe: () => string): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export class KernelLab {
  readonly bpffs: string;
  readonly servicesFile: string;
  private readonly agents: AgentProcess[] = [];
  private readonly backends = new Map<string, ChildProcess>();

  private constructor(
    readonly net: PodNetwork,
    readonly dir: string,
  ) {
    this.bpffs = net.labRun.bpffs('test');
    this.servicesFile = join(dir, 'services.yaml');
  }

  /** A client pod "client" (unless client is false) and backend pods named as given, each
   * serving the ports, on a pod network of the given shape (bridge by default). */
  static async create(t: Teardownable, backends: string[], ports: number[], opts: { shape?: PodNetworkShape; client?: boolean } = {}): Promise<KernelLab> {
    const net = PodNetwork.create(opts.shape);
    const lab = new KernelLab(net, mkdtempSync(join(tmpdir(), 'socklb-test-')));
    t.teardown(() => lab.destroy());
    if (opts.client ?? true) net.addPod('client');
    for (const b of backends) net.addPod(b);
    await Promise.all(backends.map((b) => lab.startBackend(b, ports)));
    return lab;
  }

  pod(name: string): Pod {
    return this.net.pod(name);
  }

  /** Replaces the services file atomically, as kubectl or an editor would. */
  writeServices(objects: readonly unknown[]): void {
    const tmp = `${this.servicesFile}.tmp`;
    writeFileSync(tmp, toYaml(objects));
    renameSync(tmp, this.servicesFile);
  }

  /** The agent CLI on this lab's bpffs and cgroup; by default fed the lab's services file.
   * inNodeNetns runs it in the node namespace, where the pods' host-side interfaces are (for
   * conntrack mode's tc programs); nsenter keeps the mounts, so bpffs and cgroup2 stay visible.
   * cli runs another build's CLI (an older socklb, for upgrades); bpffs another pin directory. */
  startAgent(
    source: string[] = ['--services', this.servicesFile],
    opts: { mode?: 'socket' | 'conntrack'; inNodeNetns?: boolean; cli?: string; bpffs?: string } = {},
  ): AgentProcess {
    const args = [
      opts.cli ?? CLI_PATH,
      'agent',
      ...source,
      '--bpffs',
      opts.bpffs ?? this.bpffs,
      '--cgroup',
      this.net.cgroup.path,
      '--metrics-address',
      '127.0.0.1:0',
      '--mode',
      opts.mode ?? 'socket',
    ];
    const child = opts.inNodeNetns
      ? spawn('nsenter', [`--net=${this.net.nodeNetnsPath}`, process.execPath, ...args, '--pod-interfaces', 'veth*'], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const agent = new AgentProcess(child);
    this.agents.push(agent);
    return agent;
  }

  /** The socket programs' pinned cgroup links under this lab's bpffs. */
  listLinks(): string[] {
    const dir = join(this.bpffs, 'links');
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  }

  probe(req: ProbeRequest): Promise<ProbeResult> {
    return runProbe(this.net, 'client', req);
  }

  /** A probe from an outside host (PodNetwork.addOutside): outside the run's cgroup, so no
   * socket hook sees it, as no hook sees a client beyond the node. */
  probeFrom(outside: string, req: ProbeRequest): Promise<ProbeResult> {
    return runProbe(this.net, outside, req, false);
  }

  async startBackend(name: string, ports: number[]): Promise<void> {
    this.backends.set(name, await startBackend(this.net, name, ports));
  }

  /** How many TCP connections a backend's server has accepted so far. */
  async backendAccepted(name: string): Promise<number> {
    const child = this.backends.get(name);
    if (!child) throw new Error(`no backend ${name}`);
    const line = waitForLine(child, /^accepted \d+$/, 5000, `backend ${name}`);
    child.kill('SIGUSR2');
    return Number((await line).split(' ')[1]);
  }

  /** How many TCP connections a backend's server has accepted from each client address. */
  async backendClients(name: string): Promise<Record<string, number>> {
    const child = this.backends.get(name);
    if (!child) throw new Error(`no backend ${name}`);
    const line = waitForLine(child, /^clients \{/, 5000, `backend ${name}`);
    child.kill('SIGUSR2');
    return JSON.parse((await line).slice('clients '.length)) as Record<string, number>;
  }

  /** Ends a backend's server by its PID with SIGTERM, as a terminating pod: it refuses new connections at once and lets open ones finish. */
  async stopBackend(name: string): Promise<void> {
    const child = this.backends.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** A pod that goes away: its server ends, then its namespace is deleted. */
  async removePod(name: string): Promise<void> {
    await this.stopBackend(name);
    this.backends.delete(name);
    this.net.removePod(name);
  }

  /** Waits until a UDP socket of the pod bound to localPort is connected; returns its peer as ss prints it. */
  async udpPeerOf(pod: string, localPort: number, timeoutMs = 10_000): Promise<string> {
    let peer: string | undefined;
    await eventually(
      () => {
        const line = run('ip', ['netns', 'exec', this.pod(pod).netns, 'ss', '-Hun', 'state', 'established', 'sport', '=', `:${localPort}`]).trim();
        peer = line.split(/\s+/)[3];
        return peer !== undefined;
      },
      timeoutMs,
      () => `no connected UDP socket on port ${localPort} in pod ${pod}`,
    );
    return peer!;
  }

  async destroy(): Promise<void> {
    for (const a of this.agents) await a.stop();
    // tc filters live on the pods' interfaces and go with the namespaces.
    try {
      uninstallSockDatapath(this.bpffs);
    } catch {
      // nothing was installed
    }
    // An agent that was killed could not remove its status file.
    new StatusFile(this.bpffs).remove();
    const problems = await this.net.destroy();
    rmSync(this.dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`lab clean-up: ${problems.join('; ')}`);
  }
}

/** Reply counts by backend name ("be-1:8080" -> "be-1"). */
export function byBackend(r: ProbeResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [reply, n] of Object.entries(r.replies)) {
    const name = reply.split(':')[0]!;
    out[name] = (out[name] ?? 0) + n;
  }
  return out;
}
