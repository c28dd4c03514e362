// Control plane per mode: the time to program N services (x 3 endpoints) from nothing, and
// the time one endpoint change takes to reach the datapath at that size.
//   socket / conntrack  socklb's reconciler writing the object's pinned maps (each mode loads
//                       its own object; the maps and the code path are the same)
//   iptables            kube-proxy's full sync (iptables-restore of the whole layout), then its
//                       partial sync of the one changed service's chains
//   nftables            the same with nft -f transactions
// Each runs on its own: socklb on a fresh bpffs directory, the baselines in a fresh namespace.
import type { DesiredService } from '../../model/desired-services.js';
import { Reconciler } from '../../datapath/reconciler.js';
import { uninstallSockDatapath } from '../../datapath/sock-datapath.js';
import { PodTc } from '../../datapath/pod-tc.js';
import { SocketHooks } from '../../datapath/socket-hooks.js';
import { run } from '../../lab/command.js';
import { LabRun } from '../../lab/lab-run.js';
import { RunCgroup } from '../../lab/run-cgroup.js';
import { kubeProxyIptables } from '../baselines/kube-proxy-iptables.js';
import { kubeProxyNftables } from '../baselines/kube-proxy-nftables.js';
import { POD_CIDR_V4 } from '../baselines/node-netfilter.js';
import { iptablesPartialSync, nftablesPartialSync } from '../baselines/partial-sync.js';
import type { SuiteRow, SuiteSection } from '../report/suite-result.js';
import type { Progress } from './interleave.js';
import type { SuiteProfile } from './profiles.js';
import { sample } from './samples.js';

const ENDPOINTS = 3;
const ip = (n: number, second: number): string => `10.${second + (n >>> 16)}.${(n >>> 8) & 255}.${n & 255}`;

function services(n: number): DesiredService[] {
  return Array.from({ length: n }, (_, i) => ({
    owner: `bench/svc-${i}:http`,
    frontend: { address: ip(i, 96), port: 80, protocol: 'TCP' as const },
    backends: Array.from({ length: ENDPOINTS }, (_, j) => ({ address: ip(i * ENDPOINTS + j, 128), port: 8080 })),
  }));
}

/** The k-th change: one endpoint of one service replaced by a new address. */
function changed(all: DesiredService[], k: number): DesiredService {
  const s = all[(k * 7919) % all.length]!;
  const backends = [...s.backends];
  backends[k % ENDPOINTS] = { address: ip(all.length * ENDPOINTS + k, 128), port: 8080 };
  return { ...s, backends };
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

interface Timing {
  programMs: number;
  changeMs: number[];
}

async function socklbTiming(kind: 'socket' | 'conntrack', all: DesiredService[], changes: number): Promise<Timing> {
  const labRun = LabRun.begin();
  const cgroup = new RunCgroup(labRun.cgroupName);
  const bpffs = labRun.bpffs('bench');
  let close = (): void => undefined;
  try {
    // Only the programs' load and the maps: the tc programs need no interface to be timed.
    const component = kind === 'socket' ? SocketHooks.install(bpffs, { cgroup: cgroup.path }) : PodTc.install(bpffs, { podInterfaces: [] });
    close = () => component.close();
    if (kind === 'socket') component.attach();
    // Both objects of these kinds hold the load-balancing maps (a translating PodTc).
    const reconciler = Reconciler.adopt(component.maps!);
    const programMs = time(() => {
      const r = reconciler.apply(all);
      if (r.errors.length) throw new Error(`${kind}: ${r.errors[0]!.owner}: ${r.errors[0]!.message}`);
    });
    const changeMs = Array.from({ length: changes }, (_, k) => time(() => reconciler.applyChanges({ upserts: [changed(all, k)], removals: [] })));
    return { programMs, changeMs };
  } finally {
    close();
    try {
      uninstallSockDatapath(bpffs);
    } catch {
      // nothing pinned
    }
    await cgroup.remove();
    labRun.end();
  }
}

function netfilterTiming(kind: 'iptables' | 'nftables', all: DesiredService[], changes: number): Timing {
  const labRun = LabRun.begin();
  const ns = `${labRun.netnsPrefix}cp`;
  run('ip', ['netns', 'add', ns]);
  try {
    const load = (text: string): void => {
      const cmd = kind === 'iptables' ? ['iptables-nft-restore', '--noflush'] : ['nft', '-f', '-'];
      run('ip', ['netns', 'exec', ns, ...cmd], { input: text, timeoutMs: 600_000 });
    };
    const full = kind === 'iptables' ? kubeProxyIptables(all, 4, { clusterCidr: POD_CIDR_V4 }).restore : kubeProxyNftables(all, 4, { clusterCidr: POD_CIDR_V4 }).transaction;
    const programMs = time(() => load(full));
    const changeMs = Array.from({ length: changes }, (_, k) => {
      const text = kind === 'iptables' ? iptablesPartialSync(changed(all, k), POD_CIDR_V4) : nftablesPartialSync(changed(all, k), POD_CIDR_V4);
      return time(() => load(text));
    });
    return { programMs, changeMs };
  } finally {
    run('ip', ['netns', 'del', ns]);
    labRun.end();
  }
}

const CONTROL_PLANE_MODES = ['socket', 'conntrack', 'iptables', 'nftables'] as const;

export async function controlPlaneSection(profile: SuiteProfile, progress: Progress): Promise<SuiteSection> {
  const rows: SuiteRow[] = [];
  for (const n of profile.controlPlanePoints) {
    const all = services(n);
    for (const mode of CONTROL_PLANE_MODES) {
      const t = mode === 'socket' || mode === 'conntrack' ? await socklbTiming(mode, all, profile.controlPlaneChanges) : netfilterTiming(mode, all, profile.controlPlaneChanges);
      progress(`control-plane ${n} ${mode.padEnd(9)} program ${t.programMs.toFixed(0)} ms, one change median ${sample(t.changeMs).median.toFixed(2)} ms`);
      rows.push({ mode, x: n, values: { programMs: sample([t.programMs]), changeMs: sample(t.changeMs) } });
    }
  }
  return {
    id: 'control-plane',
    title: 'Control plane',
    description: `Time to program N services × ${ENDPOINTS} endpoints from nothing, and for one endpoint change at N to be written (${profile.controlPlaneChanges} changes, median and spread). socklb: its reconciler on the pinned maps (socket and conntrack mode each load their own object). kube-proxy layouts: a full sync (iptables-restore / nft -f of everything), then a partial sync of the changed service’s chains, timed including the restore process.`,
    xLabel: 'services',
    metrics: [
      { id: 'programMs', label: 'program ms', higherIsBetter: false },
      { id: 'changeMs', label: 'one change ms', higherIsBetter: false },
    ],
    primary: 'programMs',
    rows,
    unavailable: [],
  };
}
