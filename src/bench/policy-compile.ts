// Time and memory of compiling NetworkPolicy at scale: a synthetic cluster of 200 namespaces ×
// 50 pods (10,000) on 20 nodes and 5 policies per namespace (1,000) mixing default deny, pod and
// namespace selectors, ipBlock with except, endPort ranges and named ports. Run after a build:
//   node --expose-gc dist/src/bench/policy-compile.js
// It compiles every pod (the model's view) and the local node's pods (the datapath's), twice
// each with one compiler, so the second run shows a recompute with identities already allocated.
import { pathToFileURL } from 'node:url';
import { PolicyCompiler, type CompileOptions } from '../model/policy/policy-compiler.js';
import type { PolicyCluster } from '../model/policy/policy-cluster.js';
import type { NetworkPolicyRow, PodRow } from '../model/policy-objects.js';

export function syntheticPolicyCluster(namespaces = 200, podsPerNamespace = 50, nodes = 20): PolicyCluster {
  const pods: PodRow[] = [];
  const policies: NetworkPolicyRow[] = [];
  const sel = (matchLabels: Record<string, string>) => ({ matchLabels, matchExpressions: [] });
  for (let i = 0; i < namespaces; i++) {
    const ns = `ns${i}`;
    for (let j = 0; j < podsPerNamespace; j++) {
      pods.push({
        namespace: ns,
        name: `pod${j}`,
        nodeName: `node${(i + j) % nodes}`,
        labels: { app: `app${j % 10}`, tier: `t${j % 3}` },
        ips: [`10.${i}.${j >> 8}.${(j & 255) + 1}`],
        namedPorts: [{ name: 'http', port: 8080 + (j % 2), protocol: 'TCP' }],
      });
    }
    const p = (name: string, spec: Partial<NetworkPolicyRow>): NetworkPolicyRow => ({
      namespace: ns,
      name,
      podSelector: sel({}),
      policyTypes: ['Ingress'],
      ingress: [],
      egress: [],
      ...spec,
    });
    policies.push(
      p('default-deny', { podSelector: sel({ tier: 't0' }) }),
      p('from-frontend', {
        podSelector: sel({ app: `app${i % 10}` }),
        ingress: [
          {
            peers: [{ podSelector: sel({ tier: 't1' }) }],
            ports: [
              { protocol: 'TCP', port: 'http' },
              { protocol: 'TCP', port: 9000, endPort: 9100 },
            ],
          },
        ],
      }),
      p('from-team', {
        podSelector: sel({ tier: 't2' }),
        ingress: [
          {
            peers: [{ namespaceSelector: sel({ 'kubernetes.io/metadata.name': `ns${(i + 1) % namespaces}` }), podSelector: sel({ app: 'app1' }) }],
            ports: [{ protocol: 'UDP', port: 53 }],
          },
        ],
      }),
      p('cidr', {
        podSelector: sel({ app: 'app2' }),
        ingress: [{ peers: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.${i}.0.0/16`] } }], ports: [{ protocol: 'TCP', port: 443 }] }],
      }),
      p('egress', {
        podSelector: sel({ app: 'app3' }),
        policyTypes: ['Egress'],
        egress: [
          { peers: [{ podSelector: sel({ app: 'app4' }) }], ports: [{ protocol: 'TCP', port: 'http' }] },
          { peers: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [] },
        ],
      }),
    );
  }
  return {
    pods,
    namespaces: Array.from({ length: namespaces }, (_, i) => ({ name: `ns${i}`, labels: { 'kubernetes.io/metadata.name': `ns${i}`, team: `team${i % 10}` } })),
    policies,
    localNode: { name: 'node0', addresses: ['192.168.0.1'] },
  };
}

export interface CompileMeasurement {
  label: string;
  ms: number;
  /** User + system CPU time of the compile: steadier than `ms` on a shared machine. */
  cpuMs: number;
  /** Heap still used after the compile and a GC (with --expose-gc), i.e. what the tables keep. */
  retainedHeapMb: number;
  rssMb: number;
  endpoints: number;
  identities: number;
  policyEntries: number;
  cidrEntries: number;
}

export function measureCompile(label: string, compiler: PolicyCompiler, cluster: PolicyCluster, options: CompileOptions): CompileMeasurement {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const out = compiler.compile(cluster, options);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  gc?.();
  const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
  // `out` is alive until here, so the heap after the GC still holds the tables.
  return {
    label,
    ms: Math.round(ms),
    cpuMs: Math.round((used.user + used.system) / 1000),
    retainedHeapMb: mb(process.memoryUsage().heapUsed - before),
    rssMb: mb(process.memoryUsage().rss),
    endpoints: out.endpoints.size,
    identities: out.identities.size,
    policyEntries: out.policy.size,
    cidrEntries: out.cidr.size,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cluster = syntheticPolicyCluster();
  for (const localOnly of [false, true]) {
    const compiler = new PolicyCompiler();
    const scope = localOnly ? 'local node' : 'all pods';
    console.log(JSON.stringify(measureCompile(`${scope}, first`, compiler, cluster, { localOnly })));
    console.log(JSON.stringify(measureCompile(`${scope}, recompute`, compiler, cluster, { localOnly })));
  }
}
