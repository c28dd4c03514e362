// One crr client run (src/bench/tools/crr.c) from a pod or an outside host of a lab network, and
// what every section measures of it: the client's JSON, busy CPU of the whole machine per
// transaction, the answers by backend pod and the flow tables' state right after it.
import { benchToolPath } from '../../install-paths.js';
import { run } from '../../lab/command.js';
import { waitForLine } from '../../lab/lab-processes.js';
import type { PodNetwork } from '../../lab/pod-network.js';
import type { BenchMode } from './bench-topology.js';
import { busyCpuMicros } from './cpu-accounting.js';
import { crrMeasures, type CrrMeasures, type CrrOutput } from './crr-output.js';

/** What one client run measured. */
export interface ClientRun extends CrrMeasures {
  mode: BenchMode;
  /** Busy CPU of the whole machine during the run, per transaction. */
  cpuUsPerTransaction: number;
  /** Entries in the node's kernel conntrack table right after the run. */
  kernelConntrack: number;
  /** Flows in socklb's flow table of the run's datapath right after the run. */
  socklbFlows: number;
  /** Answers by backend pod name. */
  replies: Record<string, number>;
  /** Answers from a server that is not one of the service's backends (must be 0). */
  strayReplies: number;
}

export interface CrrClientSpec {
  net: PodNetwork;
  /** The pod or outside host the client runs in. */
  from: string;
  /** crr's arguments: verb, hosts, port, duration, [max]. */
  args: readonly string[];
  /** In the run's cgroup (socket mode's client pod) or not. */
  inCgroup: boolean;
  mode: BenchMode;
  durationMs: number;
  /** The service's backends' names by the ID their crr server answers with; an answer with
   * an ID not here is a stray one. */
  backends: readonly (string | undefined)[];
  /** socklb's flows right after the run. */
  socklbFlows: () => number;
}

/** Entries in the kernel's conntrack table of a namespace. */
export function kernelConntrackCount(netns: string): number {
  return Number(run('ip', ['netns', 'exec', netns, 'cat', '/proc/sys/net/netfilter/nf_conntrack_count']).trim());
}

export async function crrClientRun(spec: CrrClientSpec): Promise<ClientRun> {
  const cpuBefore = busyCpuMicros();
  const client = spec.net.spawn(spec.from, benchToolPath('crr'), spec.args, { inCgroup: spec.inCgroup });
  const out = JSON.parse(await waitForLine(client, /^\{/, spec.durationMs + 60_000, `crr ${spec.args[0]} (${spec.mode})`)) as CrrOutput;
  const cpu = busyCpuMicros() - cpuBefore;
  const kernelConntrack = kernelConntrackCount(spec.net.nodeNetns);
  const socklbFlows = spec.socklbFlows();
  const replies: Record<string, number> = {};
  let strayReplies = 0;
  for (const [id, n] of Object.entries(out.replies)) {
    const name = spec.backends[Number(id)];
    if (name) replies[name] = n;
    else strayReplies += n;
  }
  return {
    mode: spec.mode,
    ...crrMeasures(out),
    cpuUsPerTransaction: out.connections > 0 ? cpu / out.connections : Number.NaN,
    kernelConntrack,
    socklbFlows,
    replies,
    strayReplies,
  };
}
