// kube-proxy's iptables layout on both of iptables' backends: nf_tables (iptables-nft, what the
// other sections measure) and x_tables (iptables-legacy, what many nodes still run). A legacy
// table stays hooked into its namespace once loaded, so legacy runs get a topology of their own,
// built beside a topology for direct and iptables-nft runs at the same number of services; the
// runs of the three modes are interleaved across the two, so drift hits them alike, and the
// ratios to direct compare the backends.
import type { SuiteSection } from '../report/suite-result.js';
import { BenchTopology, type BenchMode } from './bench-topology.js';
import { interleaved, type Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { rowsFor, withRatios } from './samples.js';

const SHARED: readonly BenchMode[] = ['direct', 'iptables'];
const ALONE: readonly BenchMode[] = ['iptables-legacy'];

export async function iptablesLegacySection(profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const rows = [];
  for (const x of profile.legacyServicePoints) {
    const topologies: BenchTopology[] = [];
    try {
      topologies.push(await BenchTopology.create({ backends: profile.backends, services: x, modes: SHARED }, progress));
      topologies.push(await BenchTopology.create({ backends: profile.backends, services: x, modes: ALONE }, progress));
      const [shared, alone] = topologies as [BenchTopology, BenchTopology];
      const modes = [...SHARED, ...ALONE];
      const runs = await interleaved(modes, profile.repetitions, (m) => (ALONE.includes(m) ? alone : shared).run(m, 'crr', { durationMs: profile.durationMs }), progress, `iptables-legacy ${x}`);
      for (const rs of runs.values()) for (const r of rs) problems.push(...checkRun(r, `iptables-legacy ${x}`, shared.backendNames, true));
      rows.push(...rowsFor(runs, { rate: (r) => r.rate, cpuUs: (r) => r.cpuUsPerTransaction }, x));
    } finally {
      for (const topo of topologies) {
        const left = await topo.destroy();
        if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
      }
    }
  }
  return {
    id: 'iptables-legacy',
    title: 'kube-proxy iptables: nf_tables and legacy backends',
    description: `Short connections to one service while N services are programmed in kube-proxy’s iptables layout, loaded with iptables-nft-restore (nf_tables) and with iptables-legacy-restore (x_tables) on two identical topologies (a legacy table cannot leave its namespace, so it never shares one), with direct on the nf_tables one. ${profile.repetitions} interleaved repetitions of ${profile.durationMs / 1000} s per mode and point.`,
    xLabel: 'services',
    metrics: [
      { id: 'rate', label: 'conn/s', higherIsBetter: true },
      { id: 'cpuUs', label: 'CPU µs/conn', higherIsBetter: false },
    ],
    primary: 'rate',
    rows: withRatios(rows, 'rate'),
    unavailable: [],
  };
}
