// The agent's NetworkPolicy enforcement: whenever the Pods, Namespaces or NetworkPolicies it
// holds change (PolicyInputs' generation), the policy is compiled for this node's pods and the
// policy maps are made equal to it (syncPolicyTables). A write that fails is tried again with
// backoff until it succeeds, whether or not new input comes. The pinned maps keep enforcing
// while the agent is down or compiling: nothing is cleared first.
// With the socket hooks' egress check, the pods' network namespaces are matched to the
// compiled endpoints after every write and on an interval (pods start processes after the
// policy was compiled, and leave): pod-netns-table.ts.
import type { PolicyMaps } from '../datapath/policy-tables.js';
import { syncPolicyTables } from '../datapath/policy-tables.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY } from '../datapath/retry-queue.js';
import type { PodNamespaceScan } from '../datapath/pod-namespaces.js';
import type { PodNetnsMaps } from '../datapath/pod-netns-map.js';
import { podNetnsEntries, syncPodNetns } from '../datapath/pod-netns-table.js';
import type { PodInterface } from '../datapath/pod-interface-of.js';
import { ENDPOINT_EGRESS_ISOLATED, ENDPOINT_INGRESS_ISOLATED } from '../model/policy/policy-keys.js';
import type { PolicyInputs } from '../model/policy-inputs.js';
import { PolicyCompiler, type CompiledPolicy } from '../model/policy/policy-compiler.js';
import type { Clock, ClockTimer } from './agent-clock.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { CounterName } from '../datapath/counters-map.js';
import { programmedOf, registerPolicyMetrics, type PolicyProgrammed } from './policy-metrics.js';

export interface PolicyWork {
  /** Compiles and writes when the inputs changed since the last successful write. */
  afterSync(): void;
  stop(): void;
}

/** The socket hooks' view of which pod a socket is: its maps and the namespaces to match. */
export interface PodNamespaceWork {
  maps: PodNetnsMaps;
  scan: () => PodNamespaceScan;
  intervalMs: number;
}

/** How the policy programs reach every local pod's interface, whatever its name: the veth the
 * node routes the pod's address to, or the bridge port holding its MAC (pod-interface-of.ts). */
export interface PodInterfaceWork {
  attach(ifname: string): boolean;
  /** A lookup for one pass: the namespace's links are listed once per pass, not per pod. */
  finder: () => (address: string) => PodInterface;
}

export function startPolicyWork(
  maps: PolicyMaps,
  inputs: PolicyInputs,
  node: { name: string; addresses: () => readonly string[] },
  clock: Clock,
  random: () => number,
  log: Logger,
  metrics: Metrics,
  counters: () => Record<CounterName, bigint>,
  namespaces?: PodNamespaceWork,
  interfaces?: PodInterfaceWork,
): PolicyWork {
  const compiler = new PolicyCompiler();
  let written = -1;
  let failures = 0;
  let programmed: PolicyProgrammed = { endpoints: 0, identities: 0, rules: 0, cidr: 0, ipcache: 0 };
  const writes = { succeeded: 0, failed: 0 };
  registerPolicyMetrics(metrics, () => programmed, writes, counters);
  let retry: ClockTimer | undefined;
  let endpoints: CompiledPolicy['endpoints'] | undefined;
  const identify = (): void => {
    if (!namespaces || !endpoints) return;
    try {
      const scan = namespaces.scan();
      const report = syncPodNetns(namespaces.maps, podNetnsEntries(scan.namespaces, endpoints));
      if (report.written + report.removed > 0) log.info({ ...report, namespaces: scan.namespaces.length, unreadable: scan.unreadable.length }, 'pod namespaces identified');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'pod namespaces not identified; their connections are judged at tc until the next scan');
    }
  };
  let lastUnreached = '';
  /** The programs onto each isolated pod's own interface; pods whose interface cannot be found
   * are reported (once per change): tc cannot enforce for them. */
  const placeOnPods = (): void => {
    if (!interfaces || !endpoints) return;
    const attached: string[] = [];
    const unreached: string[] = [];
    let find: (address: string) => PodInterface;
    try {
      find = interfaces.finder();
    } catch (err) {
      log.error({ err: (err as Error).message }, "the node's links could not be listed; isolated pods' interfaces are looked for again on the next pass");
      return;
    }
    for (const [ip, e] of endpoints) {
      if (!(e.flags & (ENDPOINT_INGRESS_ISOLATED | ENDPOINT_EGRESS_ISOLATED))) continue;
      try {
        const found = find(ip);
        if ('interface' in found) {
          if (interfaces.attach(found.interface)) attached.push(found.interface);
        } else if (!found.retry) unreached.push(`pod ${e.pod} (${ip}): ${found.problem}`);
      } catch (err) {
        unreached.push(`pod ${e.pod} (${ip}): ${(err as Error).message}`);
      }
    }
    if (attached.length) log.info({ interfaces: attached }, "policy programs attached to isolated pods' interfaces");
    const text = unreached.sort().join('\n');
    if (text && text !== lastUnreached) log.warn({ pods: unreached }, "isolated pods whose interface the node does not route to: tc cannot enforce for them (the socket hooks still refuse their denied egress)");
    lastUnreached = text;
  };
  const tick = (): void => {
    identify();
    placeOnPods();
  };
  const scanTimer = (namespaces || interfaces) && clock.setInterval(tick, namespaces?.intervalMs ?? 2000);
  const run = (): void => {
    retry?.cancel();
    retry = undefined;
    const generation = inputs.generation;
    if (generation === written) return;
    const started = clock.now();
    try {
      const compiled = compiler.compile(inputs.cluster({ name: node.name, addresses: node.addresses() }), { localOnly: true });
      const report = syncPolicyTables(maps, compiled);
      endpoints = compiled.endpoints;
      tick();
      written = generation;
      failures = 0;
      writes.succeeded++;
      programmed = programmedOf(compiled);
      for (const w of compiled.warnings) log.warn({ policy: true }, w);
      log.info({ endpoints: compiled.endpoints.size, identities: compiled.identities.size, ...report, durationMs: clock.now() - started }, 'network policy written');
    } catch (err) {
      writes.failed++;
      const retryInMs = backoffDelayMs(DEFAULT_RETRY_POLICY, ++failures, random());
      log.error({ err: (err as Error).message, retryInMs }, 'network policy not written; the maps keep enforcing the last policy written, and it is retried');
      retry = clock.setTimeout(run, retryInMs);
    }
  };
  return {
    afterSync: run,
    stop: () => {
      retry?.cancel();
      scanTimer?.cancel();
    },
  };
}
