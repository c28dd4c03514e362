// The article's pod-network section: short connections to a service on pods wired in another
// shape than the base topology's bridge (src/lab/pod-network.ts): routed veths (Calico's and
// Cilium's) and MacVlan (pod traffic below the node's L3). Each mode is first tried on the
// shape; one that cannot balance there is reported as not working, with the reason the run
// showed, never as a number. Socket mode and direct must work on every shape: their failure is
// a failed check. Another mode failing where no limit is known is one too.
import type { SuiteSection } from '../report/suite-result.js';
import type { PodNetworkShape } from '../../lab/pod-network.js';
import { BenchTopology, type BenchMode } from './bench-topology.js';
import { interleaved, type Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { rowsFor, withRatios } from './samples.js';

export const SHAPE_SECTIONS = { 'routed-veth': 'routed', macvlan: 'macvlan' } as const satisfies Record<string, PodNetworkShape>;
export type ShapeSectionId = keyof typeof SHAPE_SECTIONS;

const NODE_NETFILTER_ON_MACVLAN =
  'its rules are in the node’s netfilter: the node translates what reaches it through its own MacVlan, but the backend answers the client pod directly over the MacVlan, past the node, so the reply is never translated back';

/** Why a mode cannot balance on a shape, where that is known; the run still decides. */
const KNOWN_LIMITS: Partial<Record<PodNetworkShape, Partial<Record<BenchMode, string>>>> = {
  macvlan: {
    conntrack: 'its tc programs sit on the pods’ host-side interfaces in the node namespace, and a MacVlan pod has none (the program would have to run on the pod-side interface)',
    iptables: NODE_NETFILTER_ON_MACVLAN,
    nftables: NODE_NETFILTER_ON_MACVLAN,
    ipvs: NODE_NETFILTER_ON_MACVLAN,
  },
};

const MUST_WORK: readonly BenchMode[] = ['socket', 'direct'];
/** A trial: enough connections to reach every backend, short enough that a mode that times out costs seconds. */
const TRIAL = { durationMs: 1500, max: 60 };

export async function shapeSection(id: ShapeSectionId, profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const shape = SHAPE_SECTIONS[id];
  const topo = await BenchTopology.create({ backends: profile.backends, services: 1, shape }, progress);
  try {
    const working: BenchMode[] = [];
    const unavailable = [...topo.unavailable].map(([mode, reason]) => ({ mode, reason }));
    for (const mode of topo.modes) {
      const tried = await topo.run(mode, 'crr', TRIAL);
      const trial = checkRun(tried, `${id} trial`, topo.backendNames, true);
      if (trial.length === 0) {
        working.push(mode);
        if (KNOWN_LIMITS[shape]?.[mode]) progress(`${id}: ${mode} works on ${shape} pods although ${KNOWN_LIMITS[shape]![mode]}`);
        continue;
      }
      const limit = KNOWN_LIMITS[shape]?.[mode];
      if (MUST_WORK.includes(mode) || !limit) problems.push(...trial);
      const state = `the node's kernel conntrack held ${tried.kernelConntrack} entries and socklb's ${tried.socklbFlows} flows after it`;
      unavailable.push({ mode, reason: `does not balance on ${shape} pods${limit ? `: ${limit}` : ''} (the trial run: ${trial.join('; ')}; ${state})` });
      progress(`${id}: ${mode} does not work on ${shape} pods: ${trial.join('; ')}`);
    }
    const runs = await interleaved(working, profile.repetitions, (m) => topo.run(m, 'crr', { durationMs: profile.durationMs }), progress, id);
    for (const rs of runs.values()) for (const r of rs) problems.push(...checkRun(r, id, topo.backendNames, true));
    return {
      id,
      title: `Service, short connections, ${shape === 'routed' ? 'routed veth' : 'MacVlan'} pods`,
      description: `Short connections to a ClusterIP as in the short-connections section, on pods wired ${
        shape === 'routed'
          ? 'by routed veths: a /32 per pod, no bridge, the node routing each pod’s address to its host-side veth (Calico’s and Cilium’s shape)'
          : 'as MacVlan interfaces of one parent device: pod to pod traffic never enters the node’s L3 (the article’s case; this kernel has MacVlan, not IPVlan), the node’s own MacVlan is the pods’ gateway for the service range'
      }. Each mode is tried first (up to ${TRIAL.max} connections); one whose trial fails is listed as not working with what the trial saw. ${profile.repetitions} interleaved repetitions of ${profile.durationMs / 1000} s per working mode.`,
      metrics: [
        { id: 'rate', label: 'conn/s', higherIsBetter: true },
        { id: 'p50Us', label: 'p50 µs', higherIsBetter: false },
        { id: 'cpuUs', label: 'CPU µs/conn', higherIsBetter: false },
      ],
      primary: 'rate',
      rows: withRatios(rowsFor(runs, { rate: (r) => r.rate, p50Us: (r) => r.p50Us, cpuUs: (r) => r.cpuUsPerTransaction }), 'rate'),
      unavailable,
    };
  } finally {
    const left = await topo.destroy();
    if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
  }
}
