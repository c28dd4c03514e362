// How long the control plane takes to program N services x M endpoints into the kernel's
// maps, cold and for one endpoint change at that size, and what the process holds in memory.
// The agent's file path is measured in its parts: reading the YAML, the model, the map writes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { installSockDatapath, uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { Reconciler } from '../datapath/reconciler.js';
import { RunCgroup } from '../lab/run-cgroup.js';
import type { EndpointSlice, Service } from '../model/k8s-objects.js';
import { desiredServices } from '../model/service-index.js';
import { readServicesFile } from '../source/services-file.js';
import { quantile } from './stats.js';

export interface ControlPlaneResult {
  services: number;
  endpointsPerService: number;
  /** Reading and parsing the services file (YAML) with all objects. */
  fileParseMs: number;
  /** Objects to desired frontends. */
  modelMs: number;
  /** Desired frontends to map entries, from empty maps. */
  coldApplyMs: number;
  coldMapOperations: number;
  /** One endpoint replaced in one service: model over all objects plus the map writes. */
  changeMs: { p50: number; p99: number; max: number; samples: number };
  changeMapOperations: number;
  rssMb: number;
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
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-abcde`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      endpoints: Array.from({ length: endpoints }, (_, j) => ({ addresses: [v4(i * endpoints + j, 128)], conditions: { ready: true } })),
    });
  }
  return { services: svcs, slices };
}

export async function benchControlPlane(opts: { services: number; endpoints: number; changes: number }, progress: (s: string) => void): Promise<ControlPlaneResult> {
  const id = `${process.pid}-${Date.now().toString(36)}`;
  const cgroup = new RunCgroup(`socklb-bench-${id}`);
  const bpffs = `/sys/fs/bpf/socklb-bench-${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'socklb-bench-'));
  let datapath: ReturnType<typeof installSockDatapath> | undefined;
  try {
    const objects = makeObjects(opts.services, opts.endpoints);
    const file = join(dir, 'services.yaml');
    writeFileSync(file, [...objects.services, ...objects.slices].map((o) => jsYaml.dump(o)).join('---\n'));
    let t = performance.now();
    readServicesFile(file);
    const fileParseMs = performance.now() - t;
    progress(`parsed ${opts.services} services and their slices from YAML in ${fileParseMs.toFixed(0)} ms`);

    datapath = installSockDatapath({ bpffs, cgroup: cgroup.path });
    t = performance.now();
    const desired = desiredServices(objects.services, objects.slices);
    const modelMs = performance.now() - t;
    const reconciler = Reconciler.adopt(datapath.maps);
    t = performance.now();
    const cold = reconciler.apply(desired.services);
    const coldApplyMs = performance.now() - t;
    if (cold.errors.length > 0) throw new Error(`cold sync failed for ${cold.errors.length} services: ${cold.errors[0]!.message}`);
    progress(`cold: model ${modelMs.toFixed(0)} ms, map writes ${coldApplyMs.toFixed(0)} ms (${cold.mapOperations} operations)`);

    const samples: number[] = [];
    let changeOps = 0;
    for (let k = 0; k < opts.changes; k++) {
      const i = (k * 7919) % opts.services;
      const endpoints = objects.slices[i]!.endpoints as { addresses: string[] }[];
      endpoints[k % opts.endpoints] = { addresses: [v4(opts.services * opts.endpoints + k, 128)] };
      t = performance.now();
      const report = reconciler.apply(desiredServices(objects.services, objects.slices).services);
      samples.push(performance.now() - t);
      changeOps += report.mapOperations;
    }
    const result: ControlPlaneResult = {
      services: opts.services,
      endpointsPerService: opts.endpoints,
      fileParseMs,
      modelMs,
      coldApplyMs,
      coldMapOperations: cold.mapOperations,
      changeMs: { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: Math.max(...samples), samples: samples.length },
      changeMapOperations: samples.length ? changeOps / samples.length : 0,
      rssMb: process.memoryUsage().rss / 2 ** 20,
    };
    progress(
      `one change: p50 ${result.changeMs.p50.toFixed(1)} ms, p99 ${result.changeMs.p99.toFixed(1)} ms, ${result.changeMapOperations} map operations each; RSS ${result.rssMb.toFixed(0)} MB`,
    );
    return result;
  } finally {
    datapath?.close();
    try {
      uninstallSockDatapath(bpffs);
    } catch {
      // nothing was pinned
    }
    rmSync(dir, { recursive: true, force: true });
    await cgroup.remove();
  }
}
