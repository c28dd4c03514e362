// `socklb bench cluster`: the suite's service workloads run from a client pod against a real
// cluster's Service (deploy/bench), for whatever datapath the cluster runs now (socklb socket
// or conntrack mode, kube-proxy iptables or IPVS, another CNI's), labelled by the caller, and
// against the backend pods' own addresses (a headless Service's DNS answer) as direct. One
// result per datapath; `socklb bench merge` puts them in one report.
import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { cpus, release } from 'node:os';
import { benchToolPath } from '../../install-paths.js';
import { waitForLine } from '../../lab/lab-processes.js';
import { SUITE_SCHEMA_VERSION, type SuiteResult, type SuiteSection } from '../report/suite-result.js';
import { TRAFFIC_SECTIONS } from './connection-sections.js';
import type { Progress } from './interleave.js';
import { checkRun } from './run-checks.js';
import type { ClientRun, Workload } from './bench-topology.js';
import { rowsFor, withRatios } from './samples.js';
import { crrMeasures, type CrrOutput } from './crr-output.js';

export interface ClusterClientOptions {
  /** What the cluster runs now, e.g. "socket", "conntrack", "kube-proxy-iptables". */
  modeLabel: string;
  /** The Service's DNS name or ClusterIP, and its port (TCP and UDP). */
  service: string;
  port: number;
  /** A headless Service over the same pods (its DNS answer lists the pods), or their addresses comma-separated, for direct runs. */
  direct?: string;
  directPort: number;
  repetitions: number;
  durationMs: number;
}

async function crr(args: string[], limitMs: number): Promise<CrrOutput> {
  const child = spawn(benchToolPath('crr'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    return JSON.parse(await waitForLine(child, /^\{/, limitMs, `crr ${args.join(' ')}`)) as CrrOutput;
  } finally {
    // Ended by its own duration normally; a client that outlived its limit goes now.
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const toRun = (mode: string, out: CrrOutput): ClientRun => ({
  mode: mode as ClientRun['mode'],
  ...crrMeasures(out),
  cpuUsPerTransaction: Number.NaN,
  kernelConntrack: 0,
  socklbFlows: 0,
  replies: out.replies,
  strayReplies: 0,
});

/** A headless Service's name (its DNS answer lists the pods), or the pods' addresses, comma-separated. */
async function directAddresses(direct: string): Promise<string[]> {
  const listed = direct.split(',').map((a) => a.trim());
  if (listed.every((a) => isIPv4(a))) return listed;
  return (await lookup(direct, { family: 4, all: true })).map((a) => a.address);
}

export async function runClusterClient(opts: ClusterClientOptions, progress: Progress): Promise<SuiteResult> {
  const date = new Date().toISOString();
  const vip = (await lookup(opts.service, { family: 4 })).address;
  const pods = opts.direct ? await directAddresses(opts.direct) : [];
  progress(`service ${opts.service} = ${vip}:${opts.port}; ${pods.length ? `direct: ${pods.length} pods` : 'no direct run (no --direct)'}`);
  const problems: string[] = [];
  const sections: SuiteSection[] = [];
  for (const spec of [TRAFFIC_SECTIONS['short-connections'], TRAFFIC_SECTIONS['long-connections'], TRAFFIC_SECTIONS.udp]) {
    const workload: Workload = spec.workload;
    const verb = workload === 'crr' ? 'client' : workload;
    const targets: [string, string, number][] = [
      [opts.modeLabel, vip, opts.port],
      ...(pods.length ? [['direct', workload === 'rr' ? pods[0]! : pods.join(','), opts.directPort] as [string, string, number]] : []),
    ];
    const runs = new Map<string, ClientRun[]>(targets.map(([m]) => [m, []]));
    for (let rep = 0; rep < opts.repetitions; rep++) {
      for (const [mode, hosts, port] of rep % 2 === 0 ? targets : [...targets].reverse()) {
        const r = toRun(mode, await crr([verb, hosts, String(port), String(opts.durationMs)], opts.durationMs + 60_000));
        runs.get(mode)!.push(r);
        problems.push(...checkRun({ ...r, replies: {} }, spec.id, [], false));
        progress(`${spec.id} ${rep + 1}/${opts.repetitions} ${mode} ${r.rate.toFixed(0)}/s p50 ${r.p50Us.toFixed(1)} us p99 ${r.p99Us.toFixed(1)} us errors ${r.errors}`);
      }
    }
    sections.push({
      id: spec.id,
      title: spec.title,
      description: `${spec.description} On a cluster: from the client Job’s pod to the bench Service; ${opts.repetitions} interleaved repetitions of ${opts.durationMs / 1000} s.`,
      metrics: [
        { id: 'rate', label: workload === 'crr' ? 'conn/s' : workload === 'rr' ? 'req/s' : 'datagram/s', higherIsBetter: true },
        { id: 'p50Us', label: 'p50 µs', higherIsBetter: false },
        { id: 'p99Us', label: 'p99 µs', higherIsBetter: false },
      ],
      primary: 'rate',
      rows: withRatios(rowsFor(runs, { rate: (r) => r.rate, p50Us: (r) => r.p50Us, p99Us: (r) => r.p99Us }), 'rate'),
      unavailable: pods.length ? [] : [{ mode: 'direct', reason: 'no --direct headless Service given' }],
    });
  }
  return {
    schema: SUITE_SCHEMA_VERSION,
    profile: 'cluster',
    date,
    machine: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', node: process.version },
    command: ['socklb', ...process.argv.slice(2)].join(' '),
    sections,
    problems,
  };
}
