// Starts the lab's backend servers and probe clients in pods and waits for what they report.
import { spawn, type ChildProcess } from 'node:child_process';
import { labScriptPath } from '../install-paths.js';
import type { PodNetwork } from './pod-network.js';
import type { ProbeRequest, ProbeResult } from './probe-client.js';

/** Resolves with the first stdout line matching `pattern`, or rejects on exit or timeout. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    let exitGrace: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      clearTimeout(exitGrace);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      child.off('close', onClosed);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const hit = lines.find((l) => pattern.test(l));
      if (hit !== undefined) {
        cleanup();
        resolve(hit);
      }
    };
    const onErr = (chunk: Buffer): void => {
      stderr += chunk.toString();
    };
    let exitCode: number | null = null;
    const onClosed = (): void => {
      cleanup();
      reject(new Error(`${what} exited (code ${exitCode}) before printing ${pattern}: ${stderr.trim()}`));
    };
    // 'exit' can come before the child's last output has been read (a client that prints its
    // result and exits at once: seen in CI): fail only once its output streams closed, or a
    // moment later if a process it started still holds them.
    const onExit = (code: number | null): void => {
      exitCode = code;
      exitGrace = setTimeout(onClosed, 2_000);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not print ${pattern} within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
    child.once('close', onClosed);
  });
}

export async function startBackend(net: PodNetwork, pod: string, ports: readonly number[]): Promise<ChildProcess> {
  const child = net.spawn(pod, process.execPath, [labScriptPath('backend-server'), pod, ports.join(',')], { inCgroup: false });
  await waitForLine(child, /^listening$/, 10_000, `backend server in pod ${pod}`);
  return child;
}

/** Runs a probe client in the node namespace itself (the node's own traffic: kubelet probes,
 * host processes), outside the run's cgroup. A child started in the namespace: sockets this
 * process made would be in its own namespace, whatever inNetns() says. */
export async function runNodeProbe(net: PodNetwork, req: ProbeRequest): Promise<ProbeResult> {
  const child = spawn('ip', ['netns', 'exec', net.nodeNetns, process.execPath, labScriptPath('probe-client'), JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await waitForLine(child, /^\{/, (req.durationMs ?? 60_000) + 15_000, 'probe client in the node namespace');
  return JSON.parse(line) as ProbeResult;
}

/** Runs a probe client inside the run's cgroup (so socklb translates its sockets) in a pod;
 * inCgroup false: outside it, as a client beyond the node (an outside host) is. */
export async function runProbe(net: PodNetwork, pod: string, req: ProbeRequest, inCgroup = true): Promise<ProbeResult> {
  const child = net.spawn(pod, process.execPath, [labScriptPath('probe-client'), JSON.stringify(req)], { inCgroup });
  const limit = (req.durationMs ?? 60_000) + 15_000;
  const line = await waitForLine(child, /^\{/, limit, `probe client in ${pod}`);
  return JSON.parse(line) as ProbeResult;
}

/** A probe client in --serve mode in a pod, inside the run's cgroup: one process for many
 * rounds of requests (each round's requests run at once). Ends with its stdin (end()) or with
 * the pod network's destroy(). */
export class ProbeServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly pod: string,
  ) {}

  static start(net: PodNetwork, pod: string): ProbeServer {
    return new ProbeServer(net.spawn(pod, process.execPath, [labScriptPath('probe-client'), '--serve'], { inCgroup: true, stdin: true }), pod);
  }

  /** The results in the order of the requests. Rounds are answered one after another. */
  async run(reqs: readonly ProbeRequest[]): Promise<ProbeResult[]> {
    const reply = waitForLine(this.child, /^\[/, Math.max(0, ...reqs.map((r) => r.durationMs ?? 60_000)) + 15_000, `probe server in pod ${this.pod}`);
    this.child.stdin!.write(`${JSON.stringify(reqs)}\n`);
    return JSON.parse(await reply) as ProbeResult[];
  }

  end(): void {
    this.child.stdin?.end();
  }
}
