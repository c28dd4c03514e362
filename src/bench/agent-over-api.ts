// The real agent, as a separate process, fed by an API server speaking the list/watch
// protocol on loopback: how long after the lists arrive the maps hold N services x M
// endpoints (and the agent holds P pods and Q NetworkPolicies over K namespaces, the inputs of
// NetworkPolicy), how long one endpoint change takes from the API server to the maps, and the
// agent's RSS at that size. The agent's programs attach to a cgroup made for the run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { listServices } from '../cli/service-list.js';
import { CLI_PATH } from '../install-paths.js';
import { AgentProcess } from '../lab/agent-process.js';
import { FakeApiServer } from '../lab/fake-api-server.js';
import { LabRun } from '../lab/lab-run.js';
import { RunCgroup } from '../lab/run-cgroup.js';
import { formatNumber } from './report/format.js';
import { quantile } from './stats.js';

/** Latencies as the report prints durations: "3.0", not 3.009999999999991 (an interpolated quantile). */
const ms = (v: number): string => formatNumber(v, 'duration');

export interface AgentOverApiResult {
  services: number;
  endpointsPerService: number;
  pods: number;
  networkPolicies: number;
  namespaces: number;
  /** From the last initial list received to the first full sync in the maps, as the agent logs it. */
  listsToMapsMs: number;
  /** Frontends and backends in the pinned maps once the agent is ready (read from the maps). */
  programmed: { frontends: number; backends: number };
  /** Pods, Namespaces and NetworkPolicies the agent holds once ready (from its ready sync's log line). */
  stored: { pods: number; namespaces: number; networkPolicies: number };
  /** From publishing one changed EndpointSlice to the agent's log of the sync that wrote it. */
  changeMs: { p50: number; p99: number; max: number; samples: number };
  /** The agent process's VmRSS right after the changes. */
  agentRssMb: number;
  /** Its VmRSS after 10 s without events, once V8 has had time to give memory back. */
  agentIdleRssMb: number;
}

const NODE = 'bench-node';
const v4 = (n: number, base: number): string => `10.${base + (n >>> 16)}.${(n >>> 8) & 255}.${n & 255}`;

function slice(i: number, endpoints: string[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-abcde`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: endpoints.map((a, j) => ({
      addresses: [a],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${j % 50}`,
      targetRef: { kind: 'Pod', namespace: 'bench', name: `svc-${i}-pod-${j}` },
    })),
  };
}

/** Pod i of the run: labelled as a Deployment's pods are (its app, a template hash shared by
 * its replicas), on one of 50 nodes, with a named port; as big as a real pod's JSON, roughly
 * (managedFields, a container spec, conditions), for what parsing it costs. Pods 0.. are the
 * endpoints' pods, so their addresses are the endpoints'. */
function pod(i: number, namespaces: number): Record<string, unknown> {
  const app = `app-${i % 500}`;
  const ip = v4(i, 128);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-5d8f9c7b6-${i.toString(36).padStart(5, '0')}`,
      namespace: `bench-${i % namespaces}`,
      labels: { app, 'pod-template-hash': '5d8f9c7b6', tier: i % 3 === 0 ? 'frontend' : 'backend' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-5d8f9c7b6`, uid: `rs-${i % 500}`, controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': {} } } }],
    },
    spec: {
      nodeName: `node-${i % 50}`,
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.2.3',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
          env: [{ name: 'MODE', value: 'bench' }],
        },
      ],
      serviceAccountName: 'default',
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: v4(i % 50, 200),
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  };
}

/** Policy j: selects one app's pods in its namespace, lets in that namespace's frontends and a
 * labelled namespace's pods on the named port and a port range, lets out to a CIDR. */
function policy(j: number, namespaces: number): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `policy-${j}`, namespace: `bench-${j % namespaces}` },
    spec: {
      podSelector: { matchLabels: { app: `app-${j % 500}` } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { tier: 'frontend' } } }, { namespaceSelector: { matchLabels: { team: `team-${j % 7}` } }, podSelector: {} }],
          ports: [
            { protocol: 'TCP', port: 'http' },
            { protocol: 'TCP', port: 9000, endPort: 9100 },
          ],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.200.0.0/16'] } }], ports: [{ protocol: 'UDP', port: 53 }] }],
    },
  };
}

function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const IDLE_MS = 10_000;

export async function benchAgentOverApi(
  opts: { services: number; endpoints: number; changes: number; pods?: number; policies?: number; namespaces?: number; idleMs?: number },
  progress: (s: string) => void,
): Promise<AgentOverApiResult> {
  const labRun = LabRun.begin();
  const cgroup = new RunCgroup(labRun.cgroupName);
  const bpffs = labRun.bpffs('bench');
  const dir = mkdtempSync(join(tmpdir(), 'socklb-bench-'));
  const api = new FakeApiServer();
  let agent: AgentProcess | undefined;
  try {
    await api.start();
    api.apply('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'topology.kubernetes.io/zone': 'zone-a' } } });
    const [pods, policies, namespaces] = [opts.pods ?? 0, opts.policies ?? 0, Math.max(1, opts.namespaces ?? 1)];
    for (let k = 0; k < namespaces; k++) api.apply('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `bench-${k}`, labels: { team: `team-${k % 7}` } } });
    for (let i = 0; i < pods; i++) api.apply('pods', pod(i, namespaces));
    for (let j = 0; j < policies; j++) api.apply('networkpolicies', policy(j, namespaces));
    const endpoints: string[][] = [];
    for (let i = 0; i < opts.services; i++) {
      api.apply('services', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${i}`, namespace: 'bench' },
        spec: {
          type: 'ClusterIP',
          clusterIP: v4(i, 96),
          clusterIPs: [v4(i, 96)],
          ipFamilies: ['IPv4'],
          ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
          sessionAffinity: 'None',
        },
      });
      endpoints.push(Array.from({ length: opts.endpoints }, (_, j) => v4(i * opts.endpoints + j, 128)));
      api.apply('endpointslices', slice(i, endpoints[i]!));
    }
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig());
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'agent', '--kubeconfig', kubeconfig, '--node-name', NODE, '--bpffs', bpffs, '--cgroup', cgroup.path, '--metrics-address', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    agent = new AgentProcess(child);
    const ready = await agent.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps', 120_000);
    const listsToMapsMs = ready.msSinceInputComplete as number;
    const listed = listServices(bpffs);
    const programmed = { frontends: listed.length, backends: listed.reduce((n, f) => n + f.backends.length, 0) };
    const fullSync = agent.logs.filter((l) => l.msg === 'synced' && l.kind === 'full').at(-1)!;
    const stored = { pods: fullSync.pods as number, namespaces: fullSync.namespaces as number, networkPolicies: fullSync.networkPolicies as number };
    const inputs = pods + policies > 0 ? ` and ${stored.pods} pods, ${stored.networkPolicies} NetworkPolicies over ${stored.namespaces} namespaces` : '';
    progress(`${opts.services} services x ${opts.endpoints} endpoints${inputs}: in the maps ${listsToMapsMs} ms after the last list arrived`);

    const samples: number[] = [];
    for (let k = 0; k < opts.changes; k++) {
      const i = (k * 7919) % opts.services;
      endpoints[i]![k % opts.endpoints] = v4(opts.services * opts.endpoints + k, 128);
      const from = agent.logs.length;
      const published = Date.now();
      api.apply('endpointslices', slice(i, endpoints[i]!));
      const synced = await agent.waitForLog((l) => l.msg === 'synced' && l.kind === 'delta', 10_000, from);
      samples.push((synced.time as number) - published);
    }
    const changeMs = { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: Math.max(...samples), samples: samples.length };
    const agentRssMb = rssMb(child.pid!);
    progress(
      `one endpoint change, API server to maps: p50 ${ms(changeMs.p50)} ms, p99 ${ms(changeMs.p99)} ms, max ${ms(changeMs.max)} ms over ${samples.length}; agent RSS ${agentRssMb.toFixed(0)} MB`,
    );
    const idleMs = opts.idleMs ?? IDLE_MS;
    await new Promise((r) => setTimeout(r, idleMs));
    const agentIdleRssMb = rssMb(child.pid!);
    const ops = (agent.logs.find((l) => l.msg === 'serving /healthz, /readyz and /metrics')?.address as string | undefined) ?? '';
    const memory = ops ? (await (await fetch(`http://${ops}/metrics`)).text()).split('\n').filter((l) => l.startsWith('socklb_process_memory_bytes')) : [];
    for (const l of memory) progress(`  ${l.replace(/ (\d+)$/, (_, b: string) => ` ${(Number(b) / 2 ** 20).toFixed(0)} MB`)}`);
    progress(`agent RSS after ${idleMs / 1000} s without events: ${agentIdleRssMb.toFixed(0)} MB`);
    return {
      services: opts.services,
      endpointsPerService: opts.endpoints,
      pods,
      networkPolicies: policies,
      namespaces,
      listsToMapsMs,
      programmed,
      stored,
      changeMs,
      agentRssMb,
      agentIdleRssMb,
    };
  } finally {
    await agent?.stop();
    try {
      uninstallSockDatapath(bpffs);
    } catch {
      // nothing was pinned
    }
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
    await cgroup.remove();
    labRun.end();
  }
}
