// The north-south section: short connections from a client outside the node to a NodePort on
// the node's ext0 address (north-south-topology.ts), with the backend on this node and on
// another node; socklb's NodeTc against kube-proxy's iptables and nftables NodePort rules and
// direct, every mode interleaved and every run checked. Besides rate, latency and CPU: what
// NodeTc's two programs cost per packet (the kernel's BPF statistics, over socket mode's runs)
// and the flows each mode tracks after exactly profile.stateConnections connections.
import { enableRunTimeStats, progStats } from '../../bpf/prog-stats.js';
import type { SuiteRow, SuiteSection } from '../report/suite-result.js';
import type { ClientRun } from './crr-client-run.js';
import { programCosts, type ProgramCost } from './hooks-section.js';
import { interleaved, type Progress } from './interleave.js';
import { NORTH_SOUTH_CASES, NORTH_SOUTH_MODES, NorthSouthTopology, type NorthSouthCase, type NorthSouthMode } from './north-south-topology.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { rowsFor, sample, withRatios } from './samples.js';

/** NodeTc's programs: from-world on the devices' ingress, to-world on their egress. */
const NODE_PROGRAMS = { fromWorldNs: 'slb_node_from_world', toWorldNs: 'slb_node_to_world' } as const;

const CASE_LABEL: Record<NorthSouthCase, string> = { local: 'local', remote: 'remote' };

/** A rate run, with what NodeTc's programs cost in it (socket mode only). */
interface MeasuredRun extends ClientRun {
  costs: ProgramCost[];
}

async function measuredRun(topo: NorthSouthTopology, mode: NorthSouthMode, c: NorthSouthCase, durationMs: number): Promise<MeasuredRun> {
  const programs = mode === 'socket' ? topo.nodePrograms() : new Map<number, string>();
  const stats = (): ReturnType<typeof progStats>[] => [...programs.keys()].map(progStats);
  const before = stats();
  const r = await topo.run(mode, c, { durationMs });
  return { ...r, costs: programCosts(before, stats(), r.transactions, programs) };
}

const costOf = (r: MeasuredRun, program: string): number => r.costs.find((c) => c.program === program)?.nsPerCall ?? Number.NaN;

async function measureCase(topo: NorthSouthTopology, c: NorthSouthCase, profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteRow[]> {
  const label = `north-south ${c}`;
  const backends = topo.backendsOf(c).filter((b): b is string => b !== undefined);
  const runs = await interleaved<MeasuredRun>(NORTH_SOUTH_MODES, profile.repetitions, (m) => measuredRun(topo, m as NorthSouthMode, c, profile.durationMs), progress, label, (r) =>
    [
      `${r.rate.toFixed(0).padStart(6)}/s p50 ${r.p50Us.toFixed(1)} us p99 ${r.p99Us.toFixed(1)} us cpu ${r.cpuUsPerTransaction.toFixed(1)} us errors ${r.errors}`,
      ...r.costs.map((k) => `${k.program} ${k.nsPerCall.toFixed(0)} ns x${k.callsPerTransaction.toFixed(2)}`),
    ].join('; '),
  );
  for (const rs of runs.values()) for (const r of rs) problems.push(...checkRun(r, label, backends, true));
  const n = profile.stateConnections;
  const state = await interleaved(NORTH_SOUTH_MODES, 1, (m) => topo.run(m as NorthSouthMode, c, { durationMs: 120_000, max: n }), progress, `${label} state`);
  for (const rs of state.values())
    for (const r of rs) {
      problems.push(...checkRun(r, `${label} state`, backends, true));
      if (r.transactions !== n) problems.push(`${label} state: ${r.mode} made ${r.transactions} of ${n} connections`);
    }
  const rows = withRatios(
    rowsFor(runs, {
      rate: (r) => r.rate,
      p50Us: (r) => r.p50Us,
      p99Us: (r) => r.p99Us,
      cpuUs: (r) => r.cpuUsPerTransaction,
      fromWorldNs: (r) => costOf(r, NODE_PROGRAMS.fromWorldNs),
      toWorldNs: (r) => costOf(r, NODE_PROGRAMS.toWorldNs),
      packetsPerConn: (r) => r.costs.reduce((sum, k) => sum + k.callsPerTransaction, 0) || Number.NaN,
    }),
    'rate',
  );
  for (const row of rows) {
    const after = state.get(row.mode as NorthSouthMode) ?? [];
    row.values.kernelConntrack = sample(after.map((r) => r.kernelConntrack));
    row.values.socklbFlows = sample(after.map((r) => r.socklbFlows));
    row.mode = `${row.mode}, ${CASE_LABEL[c]}`;
  }
  return rows;
}

export async function northSouthSection(profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const topo = await NorthSouthTopology.create({ backends: profile.backends }, progress);
  const stopStats = enableRunTimeStats();
  const rows: SuiteRow[] = [];
  const firstProblem = problems.length;
  try {
    for (const c of NORTH_SOUTH_CASES) rows.push(...(await measureCase(topo, c, profile, problems, progress)));
  } finally {
    stopStats();
    const left = await topo.destroy();
    if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
  }
  const n = profile.stateConnections.toLocaleString('en-US');
  return {
    id: 'north-south',
    title: 'North-south: short connections from outside the node to a NodePort',
    description:
      `A client outside the node (an outside namespace on the node's device ext0, not in the run's cgroup) makes short connections (crr: connect, 1-byte request and response, close with RST) to a NodePort on the node's ext0 address. ` +
      `"local": the service's ${profile.backends} backends are pods on this node; "remote": its backend is a pod of another node (an outside namespace on ext1 holding the pod's address). ` +
      `socket: socklb's datapath with --node-devices ext* (NodeTc: local backends see the client's address, the remote one is source-NATed to the node's ext1 address); ` +
      `iptables: kube-proxy's iptables-mode NodePort rules (KUBE-NODEPORTS → KUBE-EXT → KUBE-SVC, externalTrafficPolicy Cluster: every connection masqueraded); nftables: kube-proxy's nftables-mode rules for the same (service-nodeports → external → service chain, masqueraded); direct: the client straight to the backends' addresses, routed by the node. ` +
      `${profile.repetitions} interleaved repetitions of ${profile.durationMs / 1000} s per mode and case. ` +
      `from_world / to_world: ns per packet of NodeTc's programs from the kernel's BPF statistics (turned on for the whole section, every mode), and their packets per connection together; ` +
      `kernel conntrack / slb_node_ct: flows each table held right after exactly ${n} more connections (one run per mode, from empty tables; slb_node_ct keeps two entries per flow, counted once; a table holds one flow per tuple, so a client port reused within the run counts once).`,
    metrics: [
      { id: 'rate', label: 'conn/s', higherIsBetter: true },
      { id: 'p50Us', label: 'p50 µs', higherIsBetter: false },
      { id: 'p99Us', label: 'p99 µs', higherIsBetter: false },
      { id: 'cpuUs', label: 'CPU µs/conn', higherIsBetter: false },
      { id: 'fromWorldNs', label: 'from_world ns/pkt', higherIsBetter: false },
      { id: 'toWorldNs', label: 'to_world ns/pkt', higherIsBetter: false },
      { id: 'packetsPerConn', label: 'NodeTc pkts/conn', higherIsBetter: false },
      { id: 'kernelConntrack', label: `kernel conntrack after ${n}`, higherIsBetter: false },
      { id: 'socklbFlows', label: `slb_node_ct flows after ${n}`, higherIsBetter: false },
    ],
    primary: 'rate',
    rows,
    unavailable: [],
    // The report shows why a row's numbers are not to be trusted, next to them.
    ...(problems.length > firstProblem ? { notes: problems.slice(firstProblem).map((p) => `Check failed: ${p}`) } : {}),
  };
}
