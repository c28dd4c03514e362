// A mini cluster network in namespaces this run creates: a "node" namespace holding a bridge,
// and one namespace per pod wired to it by a veth pair. Pods reach each other over the bridge;
// the service ranges route to the node namespace, which blackholes them, so a VIP that is not
// translated goes nowhere outside the namespaces of this run (and hangs instead of answering).
import { spawn, type ChildProcess } from 'node:child_process';
import { run, tryRun } from './command.js';
import { LabRun } from './lab-run.js';
import { RunCgroup } from './run-cgroup.js';

export const SERVICE_CIDR_V4 = '10.96.0.0/16';
export const SERVICE_CIDR_V6 = 'fd00:96::/112';
const POD_PREFIX_V4 = '10.244.0.';
const POD_PREFIX_V6 = 'fd00:244::';
export const NODE_V4 = `${POD_PREFIX_V4}1`;
export const NODE_V6 = `${POD_PREFIX_V6}1`;

export interface Pod {
  name: string;
  netns: string;
  ipv4: string;
  ipv6: string;
}

export class PodNetwork {
  readonly runId: string;
  readonly nodeNetns: string;
  readonly cgroup: RunCgroup;
  private readonly pods = new Map<string, Pod>();
  private readonly children = new Set<ChildProcess>();
  private nextHost = 10;

  private constructor(readonly labRun: LabRun) {
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
  static create(): PodNetwork {
    const net = new PodNetwork(LabRun.begin());
    try {
      const n = ['-n', net.nodeNetns];
      run('ip', [...n, 'link', 'set', 'lo', 'up']);
      run('ip', [...n, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', [...n, 'addr', 'add', `${NODE_V4}/24`, 'dev', 'br0']);
      run('ip', [...n, '-6', 'addr', 'add', `${NODE_V6}/64`, 'dev', 'br0', 'nodad']);
      run('ip', [...n, 'link', 'set', 'br0', 'up']);
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

  addPod(name: string): Pod {
    const host = this.nextHost++;
    const pod: Pod = { name, netns: `${this.labRun.netnsPrefix}${name}`, ipv4: `${POD_PREFIX_V4}${host}`, ipv6: `${POD_PREFIX_V6}${host.toString(16)}` };
    run('ip', ['netns', 'add', pod.netns]);
    this.pods.set(name, pod);
    const p = ['-n', pod.netns];
    const hostIf = `veth${host}`;
    run('ip', ['-n', this.nodeNetns, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
    run('ip', ['-n', this.nodeNetns, 'link', 'set', hostIf, 'master', 'br0', 'up']);
    run('ip', [...p, 'link', 'set', 'lo', 'up']);
    run('ip', [...p, 'addr', 'add', `${pod.ipv4}/24`, 'dev', 'eth0']);
    run('ip', [...p, '-6', 'addr', 'add', `${pod.ipv6}/64`, 'dev', 'eth0', 'nodad']);
    run('ip', [...p, 'link', 'set', 'eth0', 'up']);
    run('ip', [...p, 'route', 'add', SERVICE_CIDR_V4, 'via', NODE_V4]);
    run('ip', [...p, '-6', 'route', 'add', SERVICE_CIDR_V6, 'via', NODE_V6]);
    return pod;
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

  /** Starts a command in a pod; with inCgroup it first joins the run's cgroup, where socklb's programs are attached. */
  spawn(podName: string, cmd: string, args: readonly string[], opts: { inCgroup: boolean }): ChildProcess {
    const pod = this.pod(podName);
    const child = opts.inCgroup
      ? spawn('/bin/sh', ['-c', 'echo $$ > "$1" && shift && exec ip netns exec "$@"', 'sh', this.cgroup.procsFile, pod.netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', pod.netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    for (const pod of this.pods.values()) {
      const p = tryRun('ip', ['netns', 'del', pod.netns]);
      if (p) problems.push(p);
    }
    const p = tryRun('ip', ['netns', 'del', this.nodeNetns]);
    if (p) problems.push(p);
    if (problems.length === 0) this.labRun.end();
    return problems;
  }
}
