// What NetworkPolicy is computed from, as the agent holds it: the current Pods, Namespaces and
// NetworkPolicies, decoded (policy-objects.ts). The agent's steps for those tables keep it
// (src/datapath/policy-inputs-step.ts); the policy compiler and `socklb policy list` read it.
// Pure.
import type { PolicyCluster } from './policy/policy-cluster.js';
import { NAMESPACES, NETWORK_POLICIES, PODS, type NamespaceRow, type NetworkPolicyRow, type PodRow } from './policy-objects.js';
import { RowStore } from './row-store.js';

export class PolicyInputs {
  readonly pods = new RowStore<PodRow>(PODS);
  readonly namespaces = new RowStore<NamespaceRow>(NAMESPACES);
  readonly policies = new RowStore<NetworkPolicyRow>(NETWORK_POLICIES);
  /** Bumped by every applied table: what was compiled at an older generation is stale. */
  generation = 0;

  /** The rows as the policy model takes them, judged from `localNode` (the agent's node). */
  cluster(localNode?: PolicyCluster['localNode']): PolicyCluster {
    return {
      pods: [...this.pods.values()],
      namespaces: [...this.namespaces.values()],
      policies: [...this.policies.values()],
      ...(localNode ? { localNode } : {}),
    };
  }
}
