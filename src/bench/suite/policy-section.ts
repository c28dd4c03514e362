// The article's policy scenarios: short and long connections to a NetworkPolicy-isolated pod,
// with 1 pod and 1 policy, and with 120 pods and 120 policies (each policy selects one pod by
// its label and lets the client in on the service's port: the measured pod is selected by one
// of them, and the other 119 pods' policies and interfaces are what the node carries besides).
// On routed veths (Calico's and Cilium's pod network), each mode with and without the policy:
//   socket / socket+policy        socklb's socket hooks; with the policy, tc_policy.bpf.o on the
//                                 pods' interfaces with the lightweight conntrack
//   conntrack / conntrack+policy  conntrack mode; with the policy, its tc programs enforce it on
//                                 their full conntrack
//   iptables / iptables+calico    kube-proxy's iptables layout; with the policy, the chains and
//                                 ipsets Calico's iptables dataplane writes (calico-iptables.ts)
//   direct                        no load balancer, no policy
// A policy mode is checked to enforce before it is measured: a pod the policy does not let in
// must fail to connect; one that gets through is reported as not enforcing, never as a number.
import { run as runCommand } from '../../lab/command.js';
import { inNetns } from '../../bpf/netns.js';
import type { SuiteSection } from '../report/suite-result.js';
import { syncPolicyTables } from '../../datapath/policy-tables.js';
import { installPolicyTc, type PolicyTcDatapath } from '../../datapath/policy-tc.js';
import { PolicyCompiler } from '../../model/policy/policy-compiler.js';
import type { PolicyCluster } from '../../model/policy/policy-cluster.js';
import type { NetworkPolicyRow, PodRow } from '../../model/policy-objects.js';
import { benchToolPath } from '../../install-paths.js';
import { waitForLine } from '../../lab/lab-processes.js';
import { calicoIptables, type CalicoLayout } from '../baselines/calico-iptables.js';
import { BenchTopology, type BenchMode, type ClientRun, type Workload } from './bench-topology.js';
import type { CrrOutput } from './crr-output.js';
import { interleaved, type Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { checkRun, type Problems } from './run-checks.js';
import { rowsFor, sample, withRatios } from './samples.js';

const POLICY_MODES = ['socket', 'socket+policy', 'conntrack', 'conntrack+policy', 'iptables', 'iptables+calico', 'direct'] as const;
type PolicyMode = (typeof POLICY_MODES)[number];
const BASE: Record<PolicyMode, BenchMode> = {
  socket: 'socket',
  'socket+policy': 'socket',
  conntrack: 'conntrack',
  'conntrack+policy': 'conntrack',
  iptables: 'iptables',
  'iptables+calico': 'iptables',
  direct: 'direct',
};
const BACKEND_PORT = 8080;

/** The pod no policy lets in, used to check that a mode enforces: the last idle pod. */
const intruderOf = (pods: number): string => `idle-${pods - 1}`;

/** The cluster the policies are compiled from: the client, the measured pod be-0 and the
 * other selected pods (N in all, one policy each), and the intruder, which no policy selects. */
function clusterOf(topo: BenchTopology, pods: number): PolicyCluster {
  const selected = ['be-0', ...Array.from({ length: pods - 1 }, (_, i) => `idle-${i}`)];
  const names = ['client', ...selected, intruderOf(pods)];
  const rows: PodRow[] = names.map((name) => ({ namespace: 'bench', name, nodeName: 'node-a', labels: { pod: name }, ips: [topo.net.pod(name).ipv4], namedPorts: [] }));
  // One policy per selected pod: it selects its pod and lets the client in on the port.
  const policies: NetworkPolicyRow[] = selected.map((name) => ({
      namespace: 'bench',
      name: `allow-client-${name}`,
      podSelector: { matchLabels: { pod: name }, matchExpressions: [] },
      policyTypes: ['Ingress'],
      ingress: [{ peers: [{ podSelector: { matchLabels: { pod: 'client' }, matchExpressions: [] } }], ports: [{ protocol: 'TCP', port: BACKEND_PORT }] }],
      egress: [],
    }));
  return { pods: rows, namespaces: [{ name: 'bench', labels: { 'kubernetes.io/metadata.name': 'bench' } }], policies, localNode: { name: 'node-a', addresses: [] } };
}

/** Whether a pod the policy does not let in still connects to the VIP (it must not). */
async function intruderGetsThrough(topo: BenchTopology, mode: BenchMode, pods: number): Promise<boolean> {
  const child = topo.net.spawn(intruderOf(pods), benchToolPath('crr'), ['client', '10.96.0.10', '80', '1500', '3'], { inCgroup: mode === 'socket' });
  const out = JSON.parse(await waitForLine(child, /^\{/, 20_000, 'crr client in the intruder pod')) as CrrOutput;
  return out.connections > 0;
}

interface PolicyState {
  tc: PolicyTcDatapath;
  compiled: ReturnType<PolicyCompiler['compile']>;
  empty: ReturnType<PolicyCompiler['compile']>;
  calico: CalicoLayout;
}

/** Puts `mode`'s policy in place (and every other mode's out); runs after the base mode is active. */
function applyPolicy(topo: BenchTopology, state: PolicyState, mode: PolicyMode): void {
  const withPolicy = mode === 'socket+policy' || mode === 'conntrack+policy';
  syncPolicyTables(state.tc.policy, withPolicy ? state.compiled : state.empty);
  if (mode === 'socket+policy') inNetns(topo.net.nodeNetnsPath, () => topo.net.hostInterfaces().forEach((i) => state.tc.attach(i)));
  if (mode === 'iptables+calico') {
    const ns = ['netns', 'exec', topo.net.nodeNetns];
    runCommand('ip', [...ns, 'ipset', 'restore', '-exist'], { input: state.calico.ipsets });
    runCommand('ip', [...ns, 'iptables-nft-restore', '--noflush'], { input: state.calico.restore });
  }
}

export async function policySection(profile: SuiteProfile, problems: Problems, progress: Progress): Promise<SuiteSection> {
  const rows = [];
  const unavailable: { mode: string; reason: string }[] = [];
  for (const pods of profile.policyPodPoints) {
    const topo = await BenchTopology.create({ backends: 1, services: 1, shape: 'routed', idlePods: pods, modes: ['socket', 'conntrack', 'iptables', 'direct'] }, progress);
    let tc: PolicyTcDatapath | undefined;
    try {
      tc = installPolicyTc({ bpffs: topo.pinDir });
      const compiler = new PolicyCompiler();
      const cluster = clusterOf(topo, pods);
      const interfaces = new Map(cluster.pods.map((p) => [`bench/${p.name}`, topo.net.hostInterface(p.name)!]));
      const state: PolicyState = {
        tc,
        compiled: compiler.compile(cluster, { localOnly: true }),
        empty: compiler.compile({ ...cluster, policies: [] }, { localOnly: true }),
        calico: calicoIptables(cluster, interfaces),
      };
      const prepare = (mode: PolicyMode) => (): void => applyPolicy(topo, state, mode);
      const runOf = async (mode: PolicyMode, workload: Workload): Promise<ClientRun> => {
        topo.resetModes();
        return { ...(await topo.run(BASE[mode], workload, { durationMs: profile.durationMs, prepare: prepare(mode) })), mode: mode as BenchMode };
      };
      // Only modes that really enforce are measured with their policy.
      const measured: PolicyMode[] = [];
      for (const mode of POLICY_MODES) {
        if (!mode.includes('+')) {
          measured.push(mode);
          continue;
        }
        topo.resetModes();
        await topo.run(BASE[mode], 'crr', { durationMs: 200, max: 1, prepare: prepare(mode) });
        if (await intruderGetsThrough(topo, BASE[mode], pods)) {
          unavailable.push({ mode, reason: `does not enforce the policy: a pod no policy lets in connected to the isolated pod (${pods} pods)` });
          progress(`policy ${pods}: ${mode} does not enforce; not measured`);
        } else measured.push(mode);
      }
      // A short-connection run and a long-connection run per turn, so both see the same drift.
      const runs = await interleaved(
        measured as unknown as BenchMode[],
        profile.repetitions,
        async (m) => ({ short: await runOf(m as unknown as PolicyMode, 'crr'), long: await runOf(m as unknown as PolicyMode, 'rr') }),
        progress,
        `policy ${pods}`,
        (r) => `short ${r.short.rate.toFixed(0)}/s long ${r.long.rate.toFixed(0)}/s`,
      );
      for (const rs of runs.values()) for (const r of rs) for (const [w, c] of [['short', r.short], ['long', r.long]] as const) problems.push(...checkRun(c, `policy ${pods} ${w}`, topo.backendNames, false));
      // The state each mode keeps: flows tracked right after exactly N short connections to
      // the isolated pod (kernel conntrack, socklb's conntrack, the policy's conntrack).
      const n = profile.stateConnections;
      const flows = new Map<string, number>();
      for (const mode of measured) {
        const entries = state.tc.ct.entries().map(([k]) => k);
        if (entries.length) state.tc.ct.deleteMany(entries);
        topo.resetModes();
        const r = await topo.run(BASE[mode], 'crr', { durationMs: 120_000, max: n, prepare: prepare(mode) });
        problems.push(...checkRun({ ...r, mode: mode as BenchMode }, `policy ${pods} state`, topo.backendNames, false));
        if (r.transactions !== n) problems.push(`policy ${pods} state: ${mode} made ${r.transactions} of ${n} connections`);
        flows.set(mode, r.kernelConntrack + r.socklbFlows + state.tc.ct.entries().length);
      }
      const point = rowsFor(
          runs,
          {
            shortRate: (r) => r.short.rate,
            longRate: (r) => r.long.rate,
            shortCpuUs: (r) => r.short.cpuUsPerTransaction,
            longCpuUs: (r) => r.long.cpuUsPerTransaction,
          },
          pods,
        );
      for (const row of point) row.values.flows = sample([flows.get(row.mode) ?? Number.NaN]);
      rows.push(...point);
    } finally {
      topo.resetModes();
      tc?.close();
      const left = await topo.destroy();
      if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
    }
  }
  return {
    id: 'policy',
    title: 'NetworkPolicy: connections to an isolated pod',
    description: `Short and long connections through a ClusterIP to a pod isolated by NetworkPolicy, on routed veths, with N pods and N policies (each policy selects one pod and lets the client in on the port; the measured pod is selected by one of them), each mode with its policy and without: socket mode (tc policy programs, lightweight conntrack), conntrack mode (its full conntrack), kube-proxy iptables with the chains and ipsets Calico's iptables dataplane writes. A policy mode is measured only after a pod the policy does not let in failed to connect. ${profile.repetitions} interleaved repetitions of ${profile.durationMs / 1000} s per mode and point.`,
    xLabel: 'pods and policies',
    metrics: [
      { id: 'shortRate', label: 'short conn/s', higherIsBetter: true },
      { id: 'longRate', label: 'long req/s', higherIsBetter: true },
      { id: 'shortCpuUs', label: 'CPU µs/conn', higherIsBetter: false },
      { id: 'longCpuUs', label: 'CPU µs/req', higherIsBetter: false },
      { id: 'flows', label: `tracked flows after ${profile.stateConnections.toLocaleString('en-US')} conns`, higherIsBetter: false },
    ],
    primary: 'shortRate',
    rows: withRatios(rows, 'shortRate'),
    unavailable,
  };
}
