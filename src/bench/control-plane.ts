// How long the control plane takes to program N services x M endpoints into the kernel's
// maps, cold and for one endpoint change at that size, and what the process holds in memory.
// It runs the agent's own path with the objects in hand (as after the API lists arrive):
// ServiceIndex, then the reconciler on real pinned maps; and times parsing the same objects
// as a services file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { installDatapath, type Datapath } from '../datapath/datapath.js';
import { LabRun } from '../lab/lab-run.js';
import { RunCgroup } from '../lab/run-cgroup.js';
import type { EndpointSlice, Service } from '../model/k8s-objects.js';
import { ServiceIndex } from '../model/service-index.js';
import { readServicesFile } from '../source/services-file.js';
import { quantile } from './stats.js';

export interface ControlPlaneResult {
  services: number;
  endpointsPerService: number;
  /** Objects folded into the ServiceIndex and the first flush: the agent's work once the lists arrive. */
  modelMs: number;
  /** Desired frontends to map entries, from empty maps. */
  coldApplyMs: number;
  coldMapOperations: number;
  /** One endpoint replaced in one service, as a watch event: index update, flush, map writes. */
  changeMs: { p50: number; p99: number; max: number; samples: number };
  changeMapOperations: number;
  /** Process RSS with everything programmed (before the file measurement below). */
  rssMb: number;
  /** V8 heap in use after a full collection at that point (needs node --expose-gc; else without it). */
  heapUsedMb: number;
  /** Reading and parsing the same objects as one YAML services file (the file source). */
  fileParseMs: number;
}

const v4 = (n: number, base: number): string => `10.${base + (n >>> 16)}.${(n >>> 8) & 255}.${n & 255}`;

function makeObjects(services: number, endpoints: number): { services: Service[]; slices: EndpointSlice[] } {
  const svcs: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    svcs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'bench' },
      spec: { type: 'ClusterIP', clusterIP: v4(i, 96), clusterIPs: [v4(i, 96)], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
    });
    slices.push(
      slice(
        name,
        Array.from({ length: endpoints }, (_, j) => v4(i * endpoints + j, 128)),
      ),
    );
  }
  return { services: svcs, slices };
}

function slice(service: string, addresses: string[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abcde`, namespace: 'bench', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  };
}

export async function benchControlPlane(opts: { services: number; endpoints: number; changes: number }, progress: (s: string) => void): Promise<ControlPlaneResult> {
  const labRun = LabRun.begin();
  const cgroup = new RunCgroup(labRun.cgroupName);
  const bpffs = labRun.bpffs('bench');
  const dir = mkdtempSync(join(tmpdir(), 'socklb-bench-'));
  let datapath: Datapath | undefined;
  try {
    const objects = makeObjects(opts.services, opts.endpoints);
    datapath = installDatapath({ bpffs, components: { 'socket-hooks': { cgroup: cgroup.path } } });
    const reconciler = datapath.reconciler;

    let t = performance.now();
    const index = new ServiceIndex();
    for (const s of objects.slices) index.upsertSlice(s);
    for (const s of objects.services) index.upsertService(s);
    index.flush();
    const modelMs = performance.now() - t;
    t = performance.now();
    const cold = reconciler.apply(index.desired());
    const coldApplyMs = performance.now() - t;
    if (cold.errors.length > 0) throw new Error(`cold sync failed for ${cold.errors.length} services: ${cold.errors[0]!.message}`);
    progress(
      `cold: ${opts.services} services x ${opts.endpoints} endpoints: model ${modelMs.toFixed(0)} ms, map writes ${coldApplyMs.toFixed(0)} ms (${cold.mapOperations} operations)`,
    );

    const samples: number[] = [];
    let changeOps = 0;
    for (let k = 0; k < opts.changes; k++) {
      const i = (k * 7919) % opts.services;
      const addresses = (objects.slices[i]!.endpoints as { addresses: string[] }[]).map((e) => e.addresses[0]!);
      addresses[k % opts.endpoints] = v4(opts.services * opts.endpoints + k, 128);
      const changed = slice(`svc-${i}`, addresses);
      objects.slices[i] = changed;
      t = performance.now();
      index.upsertSlice(changed);
      const report = reconciler.applyChanges(index.flush());
      samples.push(performance.now() - t);
      changeOps += report.mapOperations;
    }
    (globalThis as { gc?: () => void }).gc?.();
    const rssMb = process.memoryUsage().rss / 2 ** 20;
    const heapUsedMb = process.memoryUsage().heapUsed / 2 ** 20;
    const changeMs = { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: Math.max(...samples), samples: samples.length };
    progress(
      `one endpoint change: p50 ${changeMs.p50.toFixed(2)} ms, p99 ${changeMs.p99.toFixed(2)} ms, max ${changeMs.max.toFixed(2)} ms over ${samples.length}; RSS ${rssMb.toFixed(0)} MB, heap in use ${heapUsedMb.toFixed(0)} MB`,
    );

    const file = join(dir, 'services.yaml');
    writeFileSync(file, [...objects.services, ...objects.slices].map((o) => jsYaml.dump(o)).join('---\n'));
    t = performance.now();
    readServicesFile(file);
    const fileParseMs = performance.now() - t;
    progress(`the same objects as a YAML services file: parsed in ${fileParseMs.toFixed(0)} ms`);
    return {
      services: opts.services,
      endpointsPerService: opts.endpoints,
      modelMs,
      coldApplyMs,
      coldMapOperations: cold.mapOperations,
      changeMs,
      changeMapOperations: samples.length ? changeOps / samples.length : 0,
      rssMb,
      heapUsedMb,
      fileParseMs,
    };
  } finally {
    datapath?.close();
    try {
      uninstallSockDatapath(bpffs);
    } catch {
      // nothing was pinned
    }
    rmSync(dir, { recursive: true, force: true });
    await cgroup.remove();
    labRun.end();
  }
}
