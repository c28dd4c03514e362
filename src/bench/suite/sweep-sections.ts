// The suite's sweeps: one parameter (services programmed, backend pods) grows over the
// profile's points, short connections measured in every mode at each, on a topology built for
// that point.
import type { SuiteSection } from '../report/suite-result.js';
import { BenchTopology } from './bench-topology.js';
import { interleaved, type Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { rowsFor, withRatios } from './samples.js';

interface SweepSpec {
  id: 'service-scalability' | 'pod-scalability';
  title: string;
  description: string;
  xLabel: string;
  points: number[];
  topology: (x: number) => { backends: number; services: number };
}

export function sweepSpecs(profile: SuiteProfile): SweepSpec[] {
  return [
    {
      id: 'service-scalability',
      title: 'Service scalability',
      description: `Short connections to one service while N services are programmed in every mode, the measured one last in kube-proxy’s rule order (the worst case for iptables’ linear walk).`,
      xLabel: 'services',
      points: profile.servicePoints,
      topology: (x) => ({ backends: profile.backends, services: x }),
    },
    {
      id: 'pod-scalability',
      title: 'Pod scalability',
      description: 'Short connections to one service backed by N pods (kube-proxy’s iptables mode walks a statistic cascade of up to N rules; nftables picks with one numgen map).',
      xLabel: 'backend pods',
      points: profile.podPoints,
      topology: (x) => ({ backends: x, services: 1 }),
    },
  ];
}

/** One topology per point, built and removed in turn. */
export async function sweepSection(spec: SweepSpec, profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const rows = [];
  let unavailable: { mode: string; reason: string }[] = [];
  for (const x of spec.points) {
    const topo = await BenchTopology.create(spec.topology(x), progress);
    try {
      const runs = await interleaved(topo.modes, profile.repetitions, (m) => topo.run(m, 'crr', { durationMs: profile.durationMs }), progress, `${spec.id} ${x}`);
      for (const rs of runs.values()) for (const r of rs) problems.push(...checkRun(r, `${spec.id} ${x}`, topo.backendNames, r.transactions >= 20 * x));
      rows.push(...rowsFor(runs, { rate: (r) => r.rate, cpuUs: (r) => r.cpuUsPerTransaction }, x));
      unavailable = [...topo.unavailable].map(([mode, reason]) => ({ mode, reason }));
    } finally {
      const left = await topo.destroy();
      if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
    }
  }
  return {
    id: spec.id,
    title: spec.title,
    description: `${spec.description} ${profile.repetitions} interleaved repetitions of ${profile.durationMs / 1000} s per mode and point.`,
    xLabel: spec.xLabel,
    metrics: [
      { id: 'rate', label: 'conn/s', higherIsBetter: true },
      { id: 'cpuUs', label: 'CPU µs/conn', higherIsBetter: false },
    ],
    primary: 'rate',
    rows: withRatios(rows, 'rate'),
    unavailable,
  };
}
