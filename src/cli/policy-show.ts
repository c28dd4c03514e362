// `socklb policy list` and `socklb policy check`: what the policy model makes of a cluster,
// in words. Both are computed by the model the agent enforces (src/model/policy): the list
// from the compiler's tables and policy-summary.ts, the check from the reference evaluator,
// which names the policies and rules that decided (the compiled tables are tested equal to it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { closeFd, openPinned } from '../bpf/bpf-object.js';
import { TypedMap } from '../bpf/typed-map.js';
import { mapDir } from '../datapath/datapath-object.js';
import { pinName } from '../datapath/map-layouts.js';
import { POLICY_ENDPOINTS_MAP, policyAddressLayout, policyEndpointLayout } from '../datapath/policy-maps.js';
import { ENDPOINT_EGRESS_ISOLATED, ENDPOINT_INGRESS_ISOLATED } from '../model/policy/policy-keys.js';
import { canonicalIp, formatHostPort, ipFamily } from '../net/ip-address.js';
import { ClusterIndex, podId, type LocalNode } from '../model/policy/policy-cluster.js';
import { PolicyCompiler } from '../model/policy/policy-compiler.js';
import { describeRule, describeSelector, summarisePods, type DirectionSummary, type PodPolicySummary, type RuleSummary } from '../model/policy/policy-summary.js';
import { checkTraffic, rulesOf, type SideVerdict, type TrafficProtocol, type TrafficVerdict } from '../model/policy/reference-evaluator.js';
import type { PolicyInputs } from '../model/policy-inputs.js';
import type { PolicyDirection } from '../model/policy-objects.js';

export interface ListedIdentity {
  id: number;
  namespace: string;
  labels: string;
  pods: string[];
}

export interface ListedPod extends PodPolicySummary {
  /** With the maps read: the pod's entry there (null: none), and whether it isolates the
   * directions the model does. */
  programmed?: ProgrammedEndpoint | null;
  programmedAsModel?: boolean;
}

export interface PolicyListing {
  /** The node whose pods are listed; absent: every pod of the cluster. */
  node?: string;
  pods: ListedPod[];
  /** The identities of the listed pods. */
  identities: ListedIdentity[];
  warnings: string[];
}

/** Per pod of `node` (every pod without one): isolation, rules and identity. Identities are
 * numbered by this compile: they group pods as the agent's do, their numbers may differ. */
export function listPolicy(inputs: PolicyInputs, node?: LocalNode): PolicyListing {
  const cluster = inputs.cluster(node);
  const compiled = new PolicyCompiler().compile(cluster, { localOnly: node !== undefined });
  const pods = summarisePods(new ClusterIndex(cluster), compiled, node !== undefined);
  const used = new Set(pods.map((p) => p.identity));
  const identities = [...compiled.identities.values()]
    .filter((i) => used.has(i.id))
    .map((i) => ({ id: i.id, namespace: i.namespace, labels: describeSelector({ matchLabels: i.labels, matchExpressions: [] }), pods: [...i.pods].sort() }))
    .sort((a, b) => a.id - b.id);
  return { ...(node ? { node: node.name } : {}), pods, identities, warnings: compiled.warnings };
}

const ruleText = (r: RuleSummary, direction: PolicyDirection): string =>
  `${r.policy} ${direction.toLowerCase()} rule ${r.rule}: ${direction === 'Ingress' ? 'from' : 'to'} ${r.peers.join(' or ')}; ports ${r.ports.join(', ')}`;

function directionLines(d: DirectionSummary, direction: PolicyDirection): string[] {
  const name = direction.toLowerCase();
  if (!d.isolated) return [`  ${name}: not isolated (no policy selects it for ${name}: everything is allowed)`];
  const out = [`  ${name}: isolated by ${d.policies.join(', ')}`];
  if (d.rules.length === 0) {
    out.push(direction === 'Ingress' ? '    no rule: only replies and its own node come in' : '    no rule: only replies go out');
  }
  for (const r of d.rules) out.push(`    ${ruleText(r, direction)}`);
  return out;
}

function programmedText(p: ListedPod): string {
  if (p.programmed === undefined) return '';
  if (p.programmed === null) return '  (not in the maps)';
  return `  (maps: identity ${p.programmed.identity}${p.programmedAsModel ? '' : ', isolation differs from this model: the agent has not written the current policy'})`;
}

export function formatPolicyList(listing: PolicyListing): string {
  const out: string[] = [];
  if (listing.pods.length === 0) out.push(listing.node ? `no pod runs on node ${listing.node} (spec.nodeName)` : 'no pods');
  for (const p of listing.pods) {
    const identity = p.identity === undefined ? 'no identity (no address yet)' : `identity ${p.identity}`;
    out.push(
      `${p.pod}  ${p.ips.length > 0 ? p.ips.join(', ') : '(no address)'}  ${identity}${programmedText(p)}`,
      ...directionLines(p.ingress, 'Ingress'),
      ...directionLines(p.egress, 'Egress'),
    );
  }
  if (listing.identities.length > 0) {
    out.push('', 'IDENTITY  NAMESPACE/LABELS  PODS');
    for (const i of listing.identities) out.push(`${String(i.id).padEnd(8)}  ${i.namespace}/${i.labels}  ${i.pods.join(', ')}`);
  }
  for (const w of listing.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}

/** "80", "80/TCP", "53/udp": a port and its protocol (TCP when not given). */
export function parsePortSpec(text: string): { port: number; protocol: TrafficProtocol } {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text.trim());
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`--port "${text}": expected PORT or PORT/PROTOCOL, PORT in 1..65535 and PROTOCOL TCP or UDP (say 80/TCP)`);
  const protocol = (m[2] ?? 'TCP').toUpperCase();
  if (protocol === 'SCTP') throw new Error(`--port "${text}": SCTP is not checked: this kernel has no SCTP, and socklb ignores SCTP rules`);
  return { port, protocol: protocol as TrafficProtocol };
}

export interface PolicyCheck {
  from: { name: string; address: string };
  to: { name: string; address: string };
  protocol: TrafficProtocol;
  port: number;
  verdict: TrafficVerdict;
}

/** The verdict on a new flow from `from` to `to` (namespace/name or an address; the destination
 * is the backend, after service translation). A pod given by name is taken at its address of
 * the other side's family, else its first. */
export function checkPolicy(inputs: PolicyInputs, from: string, to: string, portSpec: string, node?: LocalNode): PolicyCheck {
  const { port, protocol } = parsePortSpec(portSpec);
  const index = new ClusterIndex(inputs.cluster(node));
  const toAddress = index.addressOf(to, ipFamily(from));
  const fromAddress = index.addressOf(from, ipFamily(toAddress));
  const verdict = checkTraffic(index, { from: fromAddress, to: toAddress, protocol, port });
  return { from: { name: from, address: fromAddress }, to: { name: to, address: toAddress }, protocol, port, verdict };
}

function sideText(inputs: PolicyInputs, s: SideVerdict, direction: PolicyDirection): string {
  const name = direction.toLowerCase();
  switch (s.why) {
    case 'not-a-pod':
      return `${name}: allowed, the address is no pod's (policy restricts pods only)`;
    case 'not-isolated':
      return `${name} of ${s.pod}: allowed, no policy isolates it for ${name}`;
    case 'loopback':
      return `${name} of ${s.pod}: allowed, a pod's traffic to itself is not enforced`;
    case 'own-node':
      return `${name} of ${s.pod}: allowed, traffic from the pod's own node always comes in`;
    case 'rules': {
      const rules = s.rules.map((r) => {
        const policy = [...inputs.policies.values()].find((p) => podId(p) === r.policy);
        const rule = policy && rulesOf(policy, direction)[r.rule];
        return `\n    ${rule ? ruleText(describeRule(r.policy, policy.namespace, rule, r.rule), direction) : `${r.policy} ${name} rule ${r.rule}`}`;
      });
      return `${name} of ${s.pod}: allowed by${rules.join('')}`;
    }
    case 'no-rule':
      return `${name} of ${s.pod}: DENIED, isolated by ${s.isolatedBy.join(', ')} and no rule of theirs allows it`;
  }
}

export function formatPolicyCheck(inputs: PolicyInputs, c: PolicyCheck): string {
  const end = (e: PolicyCheck['from']): string => (e.name === e.address ? e.address : `${e.name} (${e.address})`);
  const head = `${c.verdict.allowed ? 'ALLOW' : 'DENY'}  ${end(c.from)} → ${end(c.to)}  ${formatHostPort(c.to.address, c.port)}/${c.protocol}`;
  return `${[head, `  ${sideText(inputs, c.verdict.egress, 'Egress')}`, `  ${sideText(inputs, c.verdict.ingress, 'Ingress')}`].join('\n')}\n`;
}

/** A pod's entry in the pinned slb_pol_endpoints: what the agent wrote, next to what the model says. */
export interface ProgrammedEndpoint {
  identity: number;
  ingressIsolated: boolean;
  egressIsolated: boolean;
}

/** The pinned endpoints by address, or undefined when no policy maps are pinned at bpffs. */
export function readPinnedEndpoints(bpffs: string): Map<string, ProgrammedEndpoint> | undefined {
  const path = join(mapDir(bpffs), pinName(POLICY_ENDPOINTS_MAP));
  if (!existsSync(path)) return undefined;
  const fd = openPinned(path);
  try {
    const out = new Map<string, ProgrammedEndpoint>();
    for (const [k, v] of new TypedMap(POLICY_ENDPOINTS_MAP, fd, policyAddressLayout, policyEndpointLayout).entries()) {
      out.set(k.words, { identity: v.identity, ingressIsolated: (v.flags & ENDPOINT_INGRESS_ISOLATED) !== 0, egressIsolated: (v.flags & ENDPOINT_EGRESS_ISOLATED) !== 0 });
    }
    return out;
  } finally {
    closeFd(fd);
  }
}

/** Each pod's first address's entry in the maps (null: none), and whether it isolates as the
 * model does: a difference is an agent that has not written the current policy (yet), or none
 * running. */
export function withProgrammed(listing: PolicyListing, pinned: ReadonlyMap<string, ProgrammedEndpoint>): PolicyListing {
  return {
    ...listing,
    pods: listing.pods.map((p) => {
      const entry = p.ips.map((ip) => pinned.get(canonicalIp(ip))).find((e) => e !== undefined) ?? null;
      const agrees = entry !== null && entry.ingressIsolated === p.ingress.isolated && entry.egressIsolated === p.egress.isolated;
      return { ...p, programmed: entry, programmedAsModel: agrees };
    }),
  };
}
