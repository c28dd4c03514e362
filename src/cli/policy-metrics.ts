// The metric families of NetworkPolicy enforcement (registered by policy-work.ts when the agent
// enforces policy): what the last write put in the policy maps, how writes went, and the
// programs' verdicts. Denials are the drop counters of tc_policy.bpf.c, by direction; allowed
// traffic has no per-packet counter (the allowed path stays free of one), and is counted as the
// flows that got a slb_pol_ct reply entry: every new allowed flow of a pod isolated in the
// direction its replies take. Flows between pods no policy isolates are not counted, as they
// cost nothing.
import type { CounterName } from '../datapath/counters-map.js';
import type { CompiledPolicy } from '../model/policy/policy-compiler.js';
import type { Metrics, Sample } from './metrics.js';

export interface PolicyProgrammed {
  endpoints: number;
  identities: number;
  rules: number;
  cidr: number;
  ipcache: number;
}

export function programmedOf(compiled: CompiledPolicy): PolicyProgrammed {
  return { endpoints: compiled.endpoints.size, identities: compiled.identities.size, rules: compiled.policy.size, cidr: compiled.cidr.size, ipcache: compiled.ipcache.size };
}

export function registerPolicyMetrics(
  metrics: Metrics,
  programmed: () => PolicyProgrammed,
  writes: { readonly succeeded: number; readonly failed: number },
  counters: () => Record<CounterName, bigint>,
): void {
  metrics.register({
    name: 'socklb_policy_programmed',
    help: 'What the last successful policy write put in the maps: local pods (endpoints), identities, rule and CIDR entries, and addresses in the ipcache.',
    type: 'gauge',
    read: () => Object.entries(programmed()).map(([kind, value]) => ({ labels: { kind }, value })),
  });
  metrics.register({
    name: 'socklb_policy_writes_total',
    help: 'Compiles of the policy written to the maps, and failed attempts (retried with backoff).',
    type: 'counter',
    read: () => [
      { labels: { outcome: 'succeeded' }, value: writes.succeeded },
      { labels: { outcome: 'failed' }, value: writes.failed },
    ],
  });
  /** One sample per counter, labelled `label` = the key. */
  const countersAs = (label: string, names: Readonly<Record<string, CounterName>>) => (): Sample[] => {
    const c = counters();
    return Object.entries(names).map(([value, name]) => ({ labels: { [label]: value }, value: c[name] }));
  };
  metrics.register({
    name: 'socklb_policy_denied_total',
    help: "Packets dropped by NetworkPolicy at tc, by the isolated pod's direction.",
    type: 'counter',
    read: countersAs('direction', { egress: 'policy_denied_egress', ingress: 'policy_denied_ingress' }),
  });
  metrics.register({
    name: 'socklb_policy_refused_total',
    help: "Connects and sends the socket hooks failed with EPERM by the pod's egress policy (socket mode): denied before any packet existed.",
    type: 'counter',
    read: countersAs('direction', { egress: 'policy_refused_egress' }),
  });
  metrics.register({
    name: 'socklb_policy_allowed_total',
    help: "New flows NetworkPolicy allowed, by the isolated pod's direction (counted once a flow, not per packet: the allowed path stays free of a per-packet counter).",
    type: 'counter',
    read: countersAs('direction', { egress: 'policy_allowed_egress', ingress: 'policy_allowed_ingress' }),
  });
  metrics.register({
    name: 'socklb_policy_allowed_flows_total',
    help: 'New allowed flows of pods isolated in the direction of their replies (each got a slb_pol_ct entry); "failed": its entry could not be written.',
    type: 'counter',
    read: countersAs('entry', { created: 'policy_ct_created', failed: 'policy_ct_failed' }),
  });
}
