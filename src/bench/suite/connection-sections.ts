// The suite's sections on the base topology: pod network, short and long connections, bulk,
// UDP, and the state after a fixed number of connections; every mode interleaved, every run
// checked (run-checks.ts).
import type { MetricSpec, SuiteSection } from '../report/suite-result.js';
import type { BenchTopology, ClientRun, Workload } from './bench-topology.js';
import { interleaved, type Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { rowsFor, withRatios } from './samples.js';

const perUnit = (workload: Workload): string => (workload === 'crr' ? 'conn' : workload === 'rr' ? 'req' : 'datagram');

function trafficMetrics(workload: Workload): MetricSpec[] {
  return [
    { id: 'rate', label: `${perUnit(workload)}/s`, higherIsBetter: true },
    { id: 'p50Us', label: 'p50 µs', higherIsBetter: false },
    { id: 'p99Us', label: 'p99 µs', higherIsBetter: false },
    { id: 'cpuUs', label: `CPU µs/${perUnit(workload)}`, higherIsBetter: false },
  ];
}

const TRAFFIC_PICK = {
  rate: (r: ClientRun) => r.rate,
  p50Us: (r: ClientRun) => r.p50Us,
  p99Us: (r: ClientRun) => r.p99Us,
  cpuUs: (r: ClientRun) => r.cpuUsPerTransaction,
};

interface TrafficSpec {
  id: string;
  title: string;
  description: string;
  workload: Workload;
  target: 'service' | 'pods';
}

export const TRAFFIC_SECTIONS: Record<'pod-network' | 'short-connections' | 'long-connections' | 'udp', TrafficSpec> = {
  'pod-network': {
    id: 'pod-network',
    title: 'Pod network (no service)',
    description:
      'Short connections from a client pod straight to the backend pods’ own addresses, with each mode’s machinery in place: what a datapath costs traffic that is not for a service (socket: cgroup hooks run and find no VIP; conntrack: tc programs look up every packet; iptables/nftables: bridged pod traffic goes through netfilter and its conntrack).',
    workload: 'crr',
    target: 'pods',
  },
  'short-connections': {
    id: 'short-connections',
    title: 'Service, short connections',
    description: 'A new TCP connection per 1-byte request and response (connect, write, read, close with RST), to a ClusterIP with the backend pods behind it.',
    workload: 'crr',
    target: 'service',
  },
  'long-connections': {
    id: 'long-connections',
    title: 'Service, long connections',
    description: 'One persistent TCP connection through the service, 1-byte request/response in a loop: the per-packet cost once a flow exists.',
    workload: 'rr',
    target: 'service',
  },
  udp: {
    id: 'udp',
    title: 'Service, UDP request/response',
    description: 'One unconnected UDP socket: sendto the VIP, recvfrom the answer, in a loop.',
    workload: 'udp',
    target: 'service',
  },
};

export async function trafficSection(spec: TrafficSpec, topo: BenchTopology, profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const runs = await interleaved(topo.modes, profile.repetitions, (m) => topo.run(m, spec.workload, { durationMs: profile.durationMs, target: spec.target }), progress, spec.id);
  for (const rs of runs.values()) for (const r of rs) problems.push(...checkRun(r, spec.id, topo.backendNames, spec.workload === 'crr'));
  return {
    id: spec.id,
    title: spec.title,
    description: `${spec.description} ${profile.repetitions} interleaved repetitions of ${profile.durationMs / 1000} s per mode; ${topo.backendNames.length} backend pods.`,
    metrics: trafficMetrics(spec.workload),
    primary: 'rate',
    rows: withRatios(rowsFor(runs, TRAFFIC_PICK), 'rate'),
    unavailable: [...topo.unavailable].map(([mode, reason]) => ({ mode, reason })),
  };
}

/** Bulk TCP throughput through each mode: one iperf3 stream to a single-backend service. */
export async function bulkSection(topo: BenchTopology, profile: SuiteProfile, progress: Progress): Promise<SuiteSection> {
  const runs = await interleaved(
    topo.modes,
    profile.repetitions,
    (m) => topo.bulk(m, profile.durationMs),
    progress,
    'bulk',
    (r) => `${r.gbitPerSec.toFixed(2)} Gbit/s, CPU ${r.cpuMsPerGb.toFixed(0)} ms/GB`,
  );
  return {
    id: 'bulk',
    title: 'Service, bulk throughput',
    description: `One TCP stream (iperf3, client to server) through a service with one backend, for ${Math.max(1, Math.round(profile.durationMs / 1000))} s; ${profile.repetitions} interleaved repetitions per mode. Busy CPU of the whole machine per gigabyte received.`,
    metrics: [
      { id: 'gbps', label: 'Gbit/s', higherIsBetter: true },
      { id: 'cpuMsPerGb', label: 'CPU ms/GB', higherIsBetter: false },
    ],
    primary: 'gbps',
    rows: withRatios(rowsFor(runs, { gbps: (r) => r.gbitPerSec, cpuMsPerGb: (r) => r.cpuMsPerGb }), 'gbps'),
    unavailable: [...topo.unavailable].map(([mode, reason]) => ({ mode, reason })),
  };
}

/** Conntrack state and CPU after exactly profile.stateConnections short connections per mode. */
export async function stateSection(topo: BenchTopology, profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const n = profile.stateConnections;
  const runs = await interleaved(topo.modes, 1, (m) => topo.run(m, 'crr', { durationMs: 120_000, max: n }), progress, 'state');
  for (const rs of runs.values())
    for (const r of rs) {
      problems.push(...checkRun(r, 'state', topo.backendNames, true));
      if (r.transactions !== n) problems.push(`state: ${r.mode} made ${r.transactions} of ${n} connections`);
    }
  return {
    id: 'state',
    title: 'State: conntrack entries and CPU after short connections',
    description: `${n.toLocaleString('en-US')} short connections per mode, counted right after: flows in the node kernel’s conntrack table (nf_conntrack) and in socklb’s tc conntrack table, and busy CPU of the whole machine per connection (/proc/stat). Closed flows stay in both tables for seconds (TCP close timeouts), so the counts are the state each mode keeps per connection rate.`,
    metrics: [
      { id: 'flows', label: 'tracked flows', higherIsBetter: false },
      { id: 'kernel', label: 'kernel conntrack', higherIsBetter: false },
      { id: 'socklb', label: 'socklb conntrack', higherIsBetter: false },
      { id: 'cpuUs', label: 'CPU µs/conn', higherIsBetter: false },
    ],
    primary: 'flows',
    rows: rowsFor(runs, {
      flows: (r) => r.kernelConntrack + r.socklbFlows,
      kernel: (r) => r.kernelConntrack,
      socklb: (r) => r.socklbFlows,
      cpuUs: (r) => r.cpuUsPerTransaction,
    }),
    unavailable: [...topo.unavailable].map(([mode, reason]) => ({ mode, reason })),
  };
}
