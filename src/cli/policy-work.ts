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
import type { PolicyInputs } from '../model/policy-inputs.js';
import { PolicyCompiler, type CompiledPolicy } from '../model/policy/policy-compiler.js';
import type { Clock, ClockTimer } from './agent-clock.js';
import type { Logger } from './logger.js';

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

export function startPolicyWork(
  maps: PolicyMaps,
  inputs: PolicyInputs,
  node: { name: string; addresses: () => readonly string[] },
  clock: Clock,
  random: () => number,
  log: Logger,
  namespaces?: PodNamespaceWork,
): PolicyWork {
  const compiler = new PolicyCompiler();
  let written = -1;
  let failures = 0;
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
  const scanTimer = namespaces && clock.setInterval(identify, namespaces.intervalMs);
  const run = (): void => {
    retry?.cancel();
    retry = undefined;
    const generation = inputs.generation;
    if (generation === written) return;
    const started = clock.now();
    try {
      const compiled = compiler.compile(
        {
          pods: [...inputs.pods.values()],
          namespaces: [...inputs.namespaces.values()],
          policies: [...inputs.policies.values()],
          localNode: { name: node.name, addresses: node.addresses() },
        },
        { localOnly: true },
      );
      const report = syncPolicyTables(maps, compiled);
      endpoints = compiled.endpoints;
      identify();
      written = generation;
      failures = 0;
      for (const w of compiled.warnings) log.warn({ policy: true }, w);
      log.info({ endpoints: compiled.endpoints.size, identities: compiled.identities.size, ...report, durationMs: clock.now() - started }, 'network policy written');
    } catch (err) {
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
