// A NetworkPolicy truth table on the real kernel, the upstream netpol e2e's method: pods in
// three Kubernetes namespaces (each pod a network namespace on routed veths), a Service per pod,
// the agent with --network-policy fed the Namespace, Pod, Service, EndpointSlice and
// NetworkPolicy objects through its services file; every source probes every target on every
// port with real TCP and UDP, directly and through the target's VIP, and each cell is compared
// with the reference evaluator run on rows decoded from the very objects the agent read.
import type { Namespace, NetworkPolicy, Pod as PodObject } from '../../src/model/k8s-objects.js';
import { ProbeServer } from '../../src/lab/lab-processes.js';
import { NODE_V4, NODE_V6 } from '../../src/lab/pod-network.js';
import type { ProbeRequest } from '../../src/lab/probe-client.js';
import { decodeNamespace, decodePod } from '../../src/model/pod-decode.js';
import { decodeNetworkPolicy } from '../../src/model/policy-decode.js';
import type { Labels, NamespaceRow, NetworkPolicyRow, PodRow } from '../../src/model/policy-objects.js';
import { ClusterIndex } from '../../src/model/policy/policy-cluster.js';
import { checkTraffic, type TrafficProtocol } from '../../src/model/policy/reference-evaluator.js';
import type { Problem } from '../../src/model/problems.js';
import { endpointSlice, service } from './k8s-fixtures.js';
import type { AgentProcess, KernelLab } from './kernel-lab.js';

export const NODE_NAME = 'node-a';
/** The pods' ports; each Service maps port - 8000 (80, 81) to them. */
export const PORTS = [8080, 8081] as const;
const PROTOCOLS: readonly TrafficProtocol[] = ['TCP', 'UDP'];
/** A denied probe waits this long; an allowed one answers in far less. A cell that disagrees
 * with the reference is probed once more with RETRY_TIMEOUT_MS before it counts: on a loaded
 * 2-CPU machine an allowed probe among hundreds at once can miss the short timeout. */
const PROBE_TIMEOUT_MS = 450;
const RETRY_TIMEOUT_MS = 2000;

export interface PodSpec {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Container ports with names, for named-port rules. */
  namedPorts: { name: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
}

/** The lab's pod (network namespace) for a Kubernetes pod. */
export const labPodName = (p: { namespace: string; name: string }): string => `${p.namespace}-${p.name}`;
const id = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

export interface Cell {
  from: string;
  to: string;
  protocol: TrafficProtocol;
  port: number;
  via: 'direct' | 'vip';
  expected: boolean;
  got: boolean;
}

/** The cluster's objects as the test holds them; labels and policies change between scenarios. */
export class PolicyCluster {
  readonly namespaces = new Map<string, Record<string, string>>();
  policies: Record<string, unknown>[] = [];
  /** One probe process per pod for all rounds (their start-up would cost more than the probes). */
  private readonly probers = new Map<string, ProbeServer>();

  /** family: the addresses every cell is probed at (pods and VIPs); an IPv6 run's pods are
   * dual-stack, as Kubernetes' are (the policy knows both of their addresses). */
  constructor(
    readonly lab: KernelLab,
    readonly pods: PodSpec[],
    namespaceLabels: Record<string, Record<string, string>>,
    readonly family: 'IPv4' | 'IPv6' = 'IPv4',
  ) {
    for (const [ns, labels] of Object.entries(namespaceLabels)) this.namespaces.set(ns, labels);
    for (const p of pods) this.probers.set(id(p), ProbeServer.start(lab.net, labPodName(p)));
  }

  ipOf(p: { namespace: string; name: string }): string {
    const pod = this.lab.pod(labPodName(p));
    return this.family === 'IPv4' ? pod.ipv4 : pod.ipv6;
  }

  vipOf(p: { namespace: string; name: string }): string {
    const i = this.pods.findIndex((q) => id(q) === id(p));
    return this.family === 'IPv4' ? `10.96.1.${10 + i}` : `fd00:96::${(0x110 + i).toString(16)}`;
  }

  /** A CIDR of the pod network holding every pod (the /24 of IPv4, the same hosts in IPv6). */
  get podNetwork(): string {
    return this.family === 'IPv4' ? '10.244.0.0/24' : 'fd00:244::/120';
  }

  /** The CIDR of an address and the hosts prefix bits below the full length (0: the address alone). */
  prefixOf(address: string, hostBits = 0): string {
    return `${address}/${(this.family === 'IPv4' ? 32 : 128) - hostBits}`;
  }

  private namespaceObjects(): Namespace[] {
    // The API server puts kubernetes.io/metadata.name on every namespace.
    return [...this.namespaces].map(
      ([name, labels]) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } } }) as Namespace,
    );
  }

  private podObjects(): PodObject[] {
    return this.pods.map((p) => {
      const pod = this.lab.pod(labPodName(p));
      const ip = pod.ipv4;
      const podIPs = this.family === 'IPv4' ? [{ ip }] : [{ ip }, { ip: pod.ipv6 }];
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace: p.namespace, name: p.name, labels: { ...p.labels } },
        spec: { nodeName: NODE_NAME, containers: [{ name: 'server', ports: p.namedPorts.map((np) => ({ protocol: 'TCP', ...np })) }] },
        status: { podIP: ip, podIPs },
      } as PodObject;
    });
  }

  /** A Service per pod: its VIP's ports 80 and 81 (TCP and UDP) to the pod's 8080 and 8081. */
  private serviceObjects(): unknown[] {
    return this.pods.flatMap((p) => {
      const ports = PORTS.flatMap((port) => PROTOCOLS.map((protocol) => ({ name: `${protocol.toLowerCase()}-${port}`, protocol, port })));
      return [
        service(
          p.namespace,
          p.name,
          [this.vipOf(p)],
          ports.map((q) => ({ name: q.name, protocol: q.protocol, port: q.port - 8000, targetPort: q.port })),
        ),
        endpointSlice(p.namespace, `${p.name}-1`, p.name, this.family, ports, [this.ipOf(p)]),
      ];
    });
  }

  /** Writes every object to the agent's services file and waits until the agent has written
   * the policy compiled from them. */
  async apply(agent: AgentProcess): Promise<void> {
    const from = agent.logs.length;
    this.lab.writeServices([...this.namespaceObjects(), ...this.podObjects(), ...this.serviceObjects(), ...this.policies]);
    await agent.waitForLog((l) => l.msg === 'network policy written', 15_000, from);
  }

  /** The reference's view: the rows the decoders make of the objects the agent was given. */
  reference(): ClusterIndex {
    const problems: Problem[] = [];
    const pods = this.podObjects()
      .map((o) => decodePod(o, problems))
      .filter((r): r is PodRow => r !== undefined);
    const namespaces = this.namespaceObjects()
      .map((o) => decodeNamespace(o, problems))
      .filter((r): r is NamespaceRow => r !== undefined);
    const policies = this.policies.map((o) => decodeNetworkPolicy(o as NetworkPolicy, problems)).filter((r): r is NetworkPolicyRow => r !== undefined);
    if (problems.length > 0) throw new Error(`the test's objects do not decode cleanly: ${JSON.stringify(problems)}`);
    return new ClusterIndex({ pods, namespaces, policies, localNode: { name: NODE_NAME, addresses: [NODE_V4, NODE_V6] } });
  }

  /** Every cell of the table, expected by the reference and got by probing. Cells that disagree
   * are probed once more; they count as probed the second time. */
  async probeAll(): Promise<Cell[]> {
    const index = this.reference();
    const cells: Cell[] = [];
    for (const from of this.pods)
      for (const to of this.pods)
        for (const protocol of PROTOCOLS)
          for (const port of PORTS)
            for (const via of ['direct', 'vip'] as const) {
              const expected = checkTraffic(index, { from: this.ipOf(from), to: this.ipOf(to), protocol, port }).allowed;
              cells.push({ from: id(from), to: id(to), protocol, port, via, expected, got: false });
            }
    await this.probe(cells, PROBE_TIMEOUT_MS);
    await this.probe(
      cells.filter((c) => c.got !== c.expected),
      RETRY_TIMEOUT_MS,
    );
    return cells;
  }

  /** Probes the cells, every source at once and each source's cells at once from one process. */
  private async probe(cells: Cell[], timeoutMs: number): Promise<void> {
    const bySource = new Map<string, Cell[]>();
    for (const c of cells) bySource.set(c.from, [...(bySource.get(c.from) ?? []), c]);
    await Promise.all(
      [...bySource].map(async ([from, list]) => {
        const results = await this.probers.get(from)!.run(list.map((c) => this.request(c, timeoutMs)));
        list.forEach((c, i) => (c.got = results[i]!.ok > 0));
      }),
    );
  }

  private pod(podId: string): PodSpec {
    return this.pods.find((p) => id(p) === podId)!;
  }

  private request(c: Cell, timeoutMs: number): ProbeRequest {
    const to = this.pod(c.to);
    const [host, port] = c.via === 'direct' ? [this.ipOf(to), c.port] : [this.vipOf(to), c.port - 8000];
    return { mode: c.protocol === 'TCP' ? 'tcp' : 'udp', host, port, count: 1, timeoutMs };
  }

  /** Changes a pod's labels (written by the next apply). */
  setPodLabels(p: { namespace: string; name: string }, labels: Labels): void {
    this.pod(id(p)).labels = { ...labels };
  }
}

/** The truth table of the cells that disagree, one grid per protocol/port/path with a
 * mismatch: rows are sources, columns targets; each cell "expected got" with + allowed,
 * - denied, and a * where they differ. Empty when all agree. */
export function truthTable(cells: readonly Cell[]): string {
  const out: string[] = [];
  const kinds = [...new Set(cells.map((c) => `${c.protocol}/${c.port} ${c.via}`))];
  for (const kind of kinds) {
    const of = cells.filter((c) => `${c.protocol}/${c.port} ${c.via}` === kind);
    if (of.every((c) => c.got === c.expected)) continue;
    const froms = [...new Set(of.map((c) => c.from))];
    const tos = [...new Set(of.map((c) => c.to))];
    const sign = (b: boolean): string => (b ? '+' : '-');
    out.push(`${kind} (expected got; + allowed, - denied, * mismatch)`, ['from\\to', ...tos].map((s) => s.padEnd(8)).join(''));
    for (const from of froms) {
      const row = tos.map((to) => {
        const c = of.find((x) => x.from === from && x.to === to)!;
        return `${sign(c.expected)}${sign(c.got)}${c.expected === c.got ? '' : '*'}`.padEnd(8);
      });
      out.push([from.padEnd(8), ...row].join(''));
    }
  }
  return out.join('\n');
}

export type PolicySpec = {
  podSelector?: Record<string, unknown>;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: Record<string, unknown>[];
  egress?: Record<string, unknown>[];
};

/** A networking.k8s.io/v1 NetworkPolicy object. */
export function networkPolicy(namespace: string, name: string, spec: PolicySpec): Record<string, unknown> {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name }, spec: { podSelector: {}, ...spec } };
}
