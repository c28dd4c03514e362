// The agent's NetworkPolicy enforcement: whenever the Pods, Namespaces or NetworkPolicies it
// holds change (PolicyInputs' generation), the policy is compiled for this node's pods and the
// policy maps are made equal to it (syncPolicyTables). A write that fails is tried again with
// backoff until it succeeds, whether or not new input comes. The pinned maps keep enforcing
// while the agent is down or compiling: nothing is cleared first.
import type { PolicyMaps } from '../datapath/policy-tables.js';
import { syncPolicyTables } from '../datapath/policy-tables.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY } from '../datapath/retry-queue.js';
import type { PolicyInputs } from '../model/policy-inputs.js';
import { PolicyCompiler } from '../model/policy/policy-compiler.js';
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

export function startPolicyWork(
  maps: PolicyMaps,
  inputs: PolicyInputs,
  node: { name: string; addresses: () => readonly string[] },
  clock: Clock,
  random: () => number,
  log: Logger,
  metrics: Metrics,
  counters: () => Record<CounterName, bigint>,
): PolicyWork {
  const compiler = new PolicyCompiler();
  let written = -1;
  let failures = 0;
  let programmed: PolicyProgrammed = { endpoints: 0, identities: 0, rules: 0, cidr: 0, ipcache: 0 };
  const writes = { succeeded: 0, failed: 0 };
  registerPolicyMetrics(metrics, () => programmed, writes, counters);
  let retry: ClockTimer | undefined;
  const run = (): void => {
    retry?.cancel();
    retry = undefined;
    const generation = inputs.generation;
    if (generation === written) return;
    const started = clock.now();
    try {
      const compiled = compiler.compile(inputs.cluster({ name: node.name, addresses: node.addresses() }), { localOnly: true });
      const report = syncPolicyTables(maps, compiled);
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
  return { afterSync: run, stop: () => retry?.cancel() };
}
