// Connections to a service through socklb, through kube-proxy's iptables layout, and straight
// to the backend: a client pod runs crr for a fixed time (a workload of short connections,
// one long connection, or UDP datagrams), modes interleaved round by round (A B C D, then
// D C B A, ...) so drift in the machine hits all alike.
//   vip           to the service VIP from the socklb cgroup: translated at connect()/sendmsg()
//   direct        to the backend's address from outside any socklb cgroup: no socklb at all
//   direct-hooked to the backend's address from the socklb cgroup: what the hooks cost
//                 traffic that is not for a service
//   iptables      to the VIP from outside the socklb cgroup, through kube-proxy's iptables
//                 rule set on the node namespace (DNAT and conntrack on every connection)
// With --services N, N services are programmed in both socklb and iptables, the measured one
// last in KUBE-SERVICES order (the worst case for iptables' linear walk).
import { installSockDatapath, uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { Reconciler } from '../datapath/reconciler.js';
import type { DesiredService } from '../datapath/desired-state.js';
import { installIptablesMode } from './baselines/iptables-node.js';
import { benchToolPath } from '../install-paths.js';
import { run as runCommand } from '../lab/command.js';
import { waitForLine } from '../lab/lab-processes.js';
import { PodNetwork } from '../lab/pod-network.js';
import { spread, type Spread } from './stats.js';

export const CONNECTION_MODES = ['vip', 'iptables', 'direct', 'direct-hooked'] as const;
export type ConnectionMode = (typeof CONNECTION_MODES)[number];

interface CrrRun {
  connections: number;
  errors: number;
  elapsed_ns: number;
  p50_ns: number;
  p99_ns: number;
  /** Kernel conntrack entries in the node namespace right after the run (ours added). */
  conntrack_after?: number;
}

export interface ConnectionBenchResult {
  rounds: number;
  durationMs: number;
  services: number;
  workload: Workload;
  modes: Record<ConnectionMode, { rate: Spread; p50Us: Spread; p99Us: Spread; errors: number; conntrackAfter: Spread; runs: CrrRun[] }>;
  /** Median rate of each mode divided by the median rate of direct. */
  ratioToDirect: Record<ConnectionMode, number>;
}

const VIP = '10.96.0.10';
const VIP_PORT = 80;
const BACKEND_PORT = 8080;

/** Filler services ahead of the measured one: VIPs in 10.96.128.0/17, endpoints that exist nowhere. */
function fillerServices(n: number): DesiredService[] {
  return Array.from({ length: n }, (_, i) => ({
    frontend: { address: `10.96.${128 + (i >> 8)}.${i & 255}`, port: VIP_PORT, protocol: 'TCP' as const },
    backends: [{ address: `10.245.${i >> 8}.${i & 255}`, port: BACKEND_PORT }],
    owner: `bench/filler-${i}:http`,
  }));
}

/** crr: a new connection per request (short connections); rr: one connection, many requests
 * (long); udp: datagram request/response on one unconnected socket (sendto the VIP, recvfrom). */
export type Workload = 'crr' | 'rr' | 'udp';

export async function benchConnections(
  opts: { rounds: number; durationMs: number; services?: number; workload?: Workload },
  progress: (s: string) => void,
): Promise<ConnectionBenchResult> {
  const net = PodNetwork.create();
  const bpffs = net.labRun.bpffs('bench');
  let datapath: ReturnType<typeof installSockDatapath> | undefined;
  try {
    net.addPod('client');
    const backend = net.addPod('be-1');
    const server = net.spawn('be-1', benchToolPath('crr'), ['server', String(BACKEND_PORT)], { inCgroup: false });
    await waitForLine(server, /^listening$/, 5000, 'crr server');
    const services = opts.services ?? 1;
    const desired: DesiredService[] = [
      ...fillerServices(services - 1),
      { frontend: { address: VIP, port: VIP_PORT, protocol: 'TCP' }, backends: [{ address: backend.ipv4, port: BACKEND_PORT }], owner: 'bench/crr:http' },
      { frontend: { address: VIP, port: VIP_PORT, protocol: 'UDP' }, backends: [{ address: backend.ipv4, port: BACKEND_PORT }], owner: 'bench/crr:udp' },
    ];
    datapath = installSockDatapath({ bpffs, cgroup: net.cgroup.path });
    Reconciler.adopt(datapath.maps).apply(desired);
    const iptables = installIptablesMode(net, desired);
    progress(`${services} services in socklb's maps and in kube-proxy's iptables layout (${iptables.serviceRules} rules in KUBE-SERVICES, the measured one last)`);

    const runs: Record<ConnectionMode, CrrRun[]> = { vip: [], iptables: [], direct: [], 'direct-hooked': [] };
    const target: Record<ConnectionMode, [string, number, boolean]> = {
      vip: [VIP, VIP_PORT, true],
      iptables: [VIP, VIP_PORT, false],
      direct: [backend.ipv4, BACKEND_PORT, false],
      'direct-hooked': [backend.ipv4, BACKEND_PORT, true],
    };
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? [...CONNECTION_MODES] : [...CONNECTION_MODES].reverse();
      for (const mode of order) {
        const [host, port, inCgroup] = target[mode];
        iptables.enable(mode === 'iptables');
        // Each run starts from an empty table, so the count after it is that mode's own state.
        runCommand('ip', ['netns', 'exec', net.nodeNetns, 'conntrack', '-F']);
        const client = net.spawn(
          'client',
          benchToolPath('crr'),
          [opts.workload === 'rr' || opts.workload === 'udp' ? opts.workload : 'client', host, String(port), String(opts.durationMs)],
          { inCgroup },
        );
        const line = await waitForLine(client, /^\{/, opts.durationMs + 10_000, `crr client (${mode})`);
        const run = JSON.parse(line) as CrrRun;
        // Closed flows stay in the table for seconds (CLOSE state, 10 s by default): the count
        // right after a run is the per-flow state the mode leaves on the node.
        run.conntrack_after = Number(runCommand('ip', ['netns', 'exec', net.nodeNetns, 'cat', '/proc/sys/net/netfilter/nf_conntrack_count']).trim());
        runs[mode].push(run);
        progress(
          `round ${round + 1}/${opts.rounds} ${mode.padEnd(13)} ${Math.round(run.connections / (run.elapsed_ns / 1e9))} conn/s, p50 ${(run.p50_ns / 1000).toFixed(1)} us, p99 ${(run.p99_ns / 1000).toFixed(1)} us, errors ${run.errors}, conntrack entries ${run.conntrack_after}`,
        );
      }
    }
    const modes = Object.fromEntries(
      CONNECTION_MODES.map((m) => [
        m,
        {
          rate: spread(runs[m].map((r) => r.connections / (r.elapsed_ns / 1e9))),
          p50Us: spread(runs[m].map((r) => r.p50_ns / 1000)),
          p99Us: spread(runs[m].map((r) => r.p99_ns / 1000)),
          errors: runs[m].reduce((a, r) => a + r.errors, 0),
          conntrackAfter: spread(runs[m].map((r) => r.conntrack_after ?? 0)),
          runs: runs[m],
        },
      ]),
    ) as ConnectionBenchResult['modes'];
    const ratioToDirect = Object.fromEntries(CONNECTION_MODES.map((m) => [m, modes[m].rate.median / modes.direct.rate.median])) as Record<ConnectionMode, number>;
    return { rounds: opts.rounds, durationMs: opts.durationMs, services, workload: opts.workload ?? 'crr', modes, ratioToDirect };
  } finally {
    datapath?.close();
    try {
      uninstallSockDatapath(bpffs);
    } catch {
      // nothing was pinned
    }
    const problems = await net.destroy();
    if (problems.length > 0) progress(`clean-up problems: ${problems.join('; ')}`);
  }
}
