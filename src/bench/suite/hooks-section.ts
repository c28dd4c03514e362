// The hooks section: what each socklb program costs per call, from the kernel's own BPF
// statistics (run_time_ns / run_cnt of every program, as `bpftool prog show` reports them with
// statistics on), over runs of short connections and UDP exchanges at the first and the last
// point of the service sweep; beside it the busy CPU of the whole machine per transaction of the
// same run, and direct's for the same workload. Socket mode's programs per call, conntrack mode's
// tc programs per packet. Only the programs' own run time is in the statistics: what they make
// the kernel do later (freeing socket storage when a socket closes) shows in the CPU column.
import { enableRunTimeStats, progStats, type ProgStats } from '../../bpf/prog-stats.js';
import type { SuiteRow, SuiteSection } from '../report/suite-result.js';
import { BenchTopology, type ClientRun, type Workload } from './bench-topology.js';
import type { Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { sample } from './samples.js';

interface HookRun {
  /** Row label before the program's name, e.g. "socket tcp". */
  label: string;
  mode: 'socket' | 'conntrack' | 'direct';
  workload: Workload;
  target?: 'service' | 'pods';
  v4Mapped?: boolean;
}

/** Between them these run every socket program (connect, recvmsg, getpeername of both families,
 * sendmsg4 and sock_release), a connect to an address that is no service, and the tc programs.
 * The topology is IPv4, reached from IPv6 sockets through v4-mapped addresses; the kernel sends
 * an unconnected datagram to a v4-mapped address through its IPv4 path, so sendmsg6 would need
 * an IPv6 service and does not run here. */
export const HOOK_RUNS: readonly HookRun[] = [
  { label: 'socket tcp', mode: 'socket', workload: 'peer' },
  { label: 'socket tcp v4-mapped', mode: 'socket', workload: 'peer', v4Mapped: true },
  { label: 'socket connected udp', mode: 'socket', workload: 'dns' },
  { label: 'socket connected udp v4-mapped', mode: 'socket', workload: 'dns', v4Mapped: true },
  { label: 'socket udp', mode: 'socket', workload: 'udp' },
  { label: 'socket udp v4-mapped', mode: 'socket', workload: 'udp', v4Mapped: true },
  { label: 'socket tcp to pods', mode: 'socket', workload: 'crr', target: 'pods' },
  { label: 'conntrack tcp', mode: 'conntrack', workload: 'crr' },
  { label: 'direct tcp', mode: 'direct', workload: 'crr' },
  { label: 'direct connected udp', mode: 'direct', workload: 'dns' },
];

/** What one run's statistics say per program, beside the run's CPU per transaction. */
export interface ProgramCost {
  program: string;
  nsPerCall: number;
  callsPerTransaction: number;
}

/** The programs that ran between two readings, with their cost per call; `names` overrides the
 * kernel's (cut to 15 characters) where known. */
export function programCosts(before: readonly ProgStats[], after: readonly ProgStats[], transactions: number, names: ReadonlyMap<number, string | undefined> = new Map()): ProgramCost[] {
  return after.flatMap((a) => {
    const b = before.find((p) => p.id === a.id);
    const calls = Number(a.runCount - (b?.runCount ?? 0n));
    if (calls <= 0) return [];
    const ns = Number(a.runTimeNs - (b?.runTimeNs ?? 0n));
    return [{ program: names.get(a.id) ?? a.name, nsPerCall: ns / calls, callsPerTransaction: transactions > 0 ? calls / transactions : Number.NaN }];
  });
}

const statsOf = (programs: ReadonlyMap<number, unknown>): ProgStats[] => [...programs.keys()].map(progStats);

async function measurePoint(topo: BenchTopology, x: number, profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteRow[]> {
  const samples = new Map<string, { cost: ProgramCost[]; cpuUs: number[] }>();
  const add = (label: string, cost: ProgramCost | undefined, cpuUs: number): void => {
    const s = samples.get(label) ?? { cost: [], cpuUs: [] };
    if (cost) s.cost.push(cost);
    s.cpuUs.push(cpuUs);
    samples.set(label, s);
  };
  for (let rep = 0; rep < profile.repetitions; rep++) {
    for (const spec of HOOK_RUNS) {
      const programs = spec.mode === 'direct' ? new Map<number, string>() : topo.programs(spec.mode);
      const before = statsOf(programs);
      const r: ClientRun = await topo.run(spec.mode, spec.workload, { durationMs: profile.durationMs, target: spec.target ?? 'service', v4Mapped: spec.v4Mapped });
      const costs = programCosts(before, statsOf(programs), r.transactions, programs);
      problems.push(...checkRun(r, `hooks ${x} ${spec.label}`, topo.backendNames, spec.workload !== 'udp'));
      if (spec.mode === 'direct') add(spec.label, undefined, r.cpuUsPerTransaction);
      for (const c of costs) add(`${spec.label}: ${c.program}`, c, r.cpuUsPerTransaction);
      progress(`hooks ${x} ${rep + 1}/${profile.repetitions} ${spec.label}: ${costs.map((c) => `${c.program} ${c.nsPerCall.toFixed(0)} ns x${c.callsPerTransaction.toFixed(2)}`).join(', ') || 'no program'}; cpu ${r.cpuUsPerTransaction.toFixed(1)} us`);
    }
  }
  return [...samples].map(([mode, s]) => ({
    mode,
    x,
    values: {
      nsPerCall: sample(s.cost.map((c) => c.nsPerCall)),
      callsPerTransaction: sample(s.cost.map((c) => c.callsPerTransaction)),
      cpuUs: sample(s.cpuUs),
    },
  }));
}

/** The first and the last point of the service sweep: the cost with one service and at scale. */
export function hookPoints(profile: SuiteProfile): number[] {
  return [...new Set([profile.servicePoints[0] ?? 1, profile.servicePoints.at(-1) ?? 1])];
}

export async function hooksSection(profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const rows: SuiteRow[] = [];
  const points = hookPoints(profile);
  for (const x of points) {
    const topo = await BenchTopology.create({ backends: profile.backends, services: x }, progress);
    const stopStats = enableRunTimeStats();
    try {
      rows.push(...(await measurePoint(topo, x, profile, problems, progress)));
    } finally {
      stopStats();
      const left = await topo.destroy();
      if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
    }
  }
  return {
    id: 'hooks',
    title: 'Hook costs: kernel BPF statistics per program',
    description:
      `Nanoseconds per call of each program that ran (run_time_ns / run_cnt from the kernel's BPF statistics, turned on for the run), calls per transaction, and busy CPU of the whole machine per transaction of that run, at ${points.join(' and ')} services; ` +
      `socket mode's programs per call (tcp: connect, getpeername, close; connected udp: a resolver's socket per exchange; udp: one unconnected socket; "to pods": connections to the backends' own addresses), conntrack mode's tc programs per packet, direct for the CPU a transaction costs without a load balancer. ` +
      `${profile.repetitions} repetitions of ${profile.durationMs / 1000} s per run.`,
    xLabel: 'services',
    metrics: [
      { id: 'nsPerCall', label: 'ns/call', higherIsBetter: false },
      { id: 'callsPerTransaction', label: 'calls/transaction', higherIsBetter: false },
      { id: 'cpuUs', label: 'CPU µs/transaction', higherIsBetter: false },
    ],
    primary: 'nsPerCall',
    rows,
    unavailable: [],
  };
}
