// networking.k8s.io/v1 NetworkPolicy, decoded into a NetworkPolicyRow and checked as the API
// server validates it (pkg/apis/networking/validation): selectors, ipBlock CIDRs and their
// except, port numbers and names, endPort, protocols, exactly one kind of peer.
//
// A policy that cannot be read whole must never open a pod. Leaving out a part of a rule could
// widen it (a dropped except, a dropped selector requirement, a rule whose every peer or port
// was dropped matches all), so what is wrong is handled at a level where leaving it out can
// only allow less:
// - a rule with any bad field is left out whole: it allows nothing, the policy's other rules
//   and its isolation stay;
// - a podSelector or policyTypes that cannot be read (or a spec that is no object) leaves the
//   policy isolating every pod of its namespace, for policyTypes when they could be read and
//   both directions when not, with no rule: what it was meant to allow is not guessed.
// Host bits in a CIDR (10.0.0.1/8) are cleared, as the API server's parser and every
// implementation read it, and reported: newer API servers warn about such values. Pure.
import { parseCidr, cidrContains, type Cidr } from '../net/cidr.js';
import { canonicalIp, ipFamily } from '../net/ip-address.js';
import { isRecord, objectName } from './k8s-decode.js';
import type { NetworkPolicy } from './k8s-objects.js';
import { decodeLabelSelector } from './label-decode.js';
import { decodePolicyProtocol, isPortNumber, portNameProblem } from './pod-decode.js';
import { inferPolicyTypes, type IpBlock, type NetworkPolicyRow, type PolicyDirection, type PolicyPeer, type PolicyPort, type PolicyRule } from './policy-objects.js';
import { describeValue, ProblemSink, type Problem } from './problems.js';

const ALL_DIRECTIONS: readonly PolicyDirection[] = ['Ingress', 'Egress'];

const cidrAddress = (cidr: Cidr): string => cidr.text.slice(0, cidr.text.indexOf('/'));
const familyOf = (cidr: Cidr): number | undefined => ipFamily(cidrAddress(cidr));

/** A CIDR, canonical; undefined (reported) when it does not parse. */
function decodeCidr(v: unknown, field: string, sink: ProblemSink): Cidr | undefined {
  if (typeof v !== 'string') return void sink.add(field, `is ${describeValue(v)}; expected a CIDR such as 10.0.0.0/8 or fd00::/64`);
  let cidr: Cidr;
  try {
    cidr = parseCidr(v);
  } catch (err) {
    return void sink.add(field, (err as Error).message);
  }
  if (canonicalIp(v.slice(0, v.indexOf('/'))) !== cidrAddress(cidr)) {
    sink.add(field, `is "${v}", with host bits set; it is read as ${cidr.text}, as the API server reads it (newer ones warn): write ${cidr.text}`);
  }
  return cidr;
}

function decodeIpBlock(v: unknown, field: string, sink: ProblemSink): IpBlock | undefined {
  if (!isRecord(v)) return void sink.add(field, `is ${describeValue(v)}; expected {cidr, except}`);
  const cidr = decodeCidr(v.cidr, `${field}.cidr`, sink);
  const exceptList = v.except ?? [];
  if (!Array.isArray(exceptList)) return void sink.add(`${field}.except`, `is ${describeValue(v.except)}; expected a list of CIDRs`);
  let ok = cidr !== undefined;
  const except: string[] = [];
  exceptList.forEach((e: unknown, i) => {
    const ef = `${field}.except[${i}]`;
    const x = decodeCidr(e, ef, sink);
    if (!x) ok = false;
    else if (cidr && (familyOf(x) !== familyOf(cidr) || x.bits <= cidr.bits || !cidrContains(cidr, cidrAddress(x)))) {
      sink.add(ef, `is ${x.text}, not strictly inside cidr ${cidr.text}; an except names a part of cidr (the API server refuses others)`);
      ok = false;
    } else except.push(x.text);
  });
  return ok ? { cidr: cidr!.text, except } : undefined;
}

function decodePeer(v: unknown, field: string, sink: ProblemSink): PolicyPeer | undefined {
  if (!isRecord(v)) return void sink.add(field, `is ${describeValue(v)}; expected {podSelector, namespaceSelector} or {ipBlock}`);
  const has = (k: string): boolean => v[k] !== undefined && v[k] !== null;
  if (has('ipBlock')) {
    if (has('podSelector') || has('namespaceSelector'))
      return void sink.add(field, 'has ipBlock and a selector; a peer is either an ipBlock or selectors (write two peers for either of them)');
    const ipBlock = decodeIpBlock(v.ipBlock, `${field}.ipBlock`, sink);
    return ipBlock && { ipBlock };
  }
  if (!has('podSelector') && !has('namespaceSelector')) return void sink.add(field, 'names no peer; give a podSelector, a namespaceSelector or an ipBlock ({} selects all pods)');
  const peer: PolicyPeer = {};
  let ok = true;
  for (const k of ['podSelector', 'namespaceSelector'] as const) {
    if (!has(k)) continue;
    const selector = decodeLabelSelector(v[k], `${field}.${k}`, sink);
    if (selector) peer[k] = selector;
    else ok = false;
  }
  return ok ? peer : undefined;
}

/** Why a NetworkPolicyPort's port is bad, or undefined. */
function portProblem(port: unknown): string | undefined {
  if (port === undefined || port === null || isPortNumber(port)) return undefined;
  if (typeof port !== 'string') return "a port is an integer from 1 to 65535 or a container port's name";
  return /^\d+$/.test(port) ? `a number in quotes is a name, not a port: write ${port} without quotes` : portNameProblem(port);
}

/** Why a NetworkPolicyPort's endPort is bad, or undefined. */
function endPortProblem(port: unknown, endPort: unknown): string | undefined {
  if (endPort === undefined || endPort === null) return undefined;
  if (port === undefined || port === null) return 'endPort needs a port to start the range from';
  if (typeof port === 'string') return 'endPort cannot follow a named port; give the range as numbers';
  if (!isPortNumber(endPort)) return 'a port is an integer from 1 to 65535';
  if (isPortNumber(port) && endPort < port) return `the range ends before its port ${port}; endPort is at least port`;
  return undefined;
}

function decodePort(v: unknown, field: string, sink: ProblemSink): PolicyPort | undefined {
  if (!isRecord(v)) return void sink.add(field, `is ${describeValue(v)}; expected {protocol, port, endPort}`);
  const protocol = decodePolicyProtocol(v.protocol, `${field}.protocol`, sink);
  const { port, endPort } = v;
  const badPort = portProblem(port);
  if (badPort !== undefined) sink.add(`${field}.port`, `is ${describeValue(port)}; ${badPort}`);
  const badEnd = endPortProblem(port, endPort);
  if (badEnd !== undefined) sink.add(`${field}.endPort`, `is ${describeValue(endPort)}; ${badEnd}`);
  if (!protocol || badPort !== undefined || badEnd !== undefined) return undefined;
  const out: PolicyPort = { protocol };
  if (port !== undefined && port !== null) out.port = port as number | string;
  if (endPort !== undefined && endPort !== null) out.endPort = endPort as number;
  return out;
}

/** Each item of a list field decoded by fn into out; false when the field or any item is bad. Absent: []. */
function decodeList<T>(v: unknown, field: string, sink: ProblemSink, fn: (item: unknown, itemField: string) => T | undefined, out: T[]): boolean {
  if (v === undefined || v === null) return true;
  if (!Array.isArray(v)) {
    sink.add(field, `is ${describeValue(v)}; expected a list`);
    return false;
  }
  let ok = true;
  v.forEach((item: unknown, i) => {
    const decoded = fn(item, `${field}[${i}]`);
    if (decoded === undefined) ok = false;
    else out.push(decoded);
  });
  return ok;
}

function decodeRule(item: unknown, field: string, peersKey: 'from' | 'to', sink: ProblemSink): PolicyRule | undefined {
  if (!isRecord(item)) return void sink.add(field, `is ${describeValue(item)}; expected {${peersKey}, ports}`);
  const peers: PolicyPeer[] = [];
  const ports: PolicyPort[] = [];
  const peersOk = decodeList(item[peersKey], `${field}.${peersKey}`, sink, (p, f) => decodePeer(p, f, sink), peers);
  const portsOk = decodeList(item.ports, `${field}.ports`, sink, (p, f) => decodePort(p, f, sink), ports);
  if (peersOk && portsOk) return { peers, ports };
  sink.add(field, 'is left out because of the problems above: this rule allows nothing (the policy still isolates the pods it selects)');
  return undefined;
}

/** The rules that decoded; a bad one is left out (decodeRule). */
function decodeRules(v: unknown, field: string, peersKey: 'from' | 'to', sink: ProblemSink): PolicyRule[] {
  const rules: PolicyRule[] = [];
  decodeList(v, field, sink, (item, itemField) => decodeRule(item, itemField, peersKey, sink), rules);
  return rules;
}

function decodePolicyTypes(v: unknown, egressRules: number, sink: ProblemSink): PolicyDirection[] | undefined {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return inferPolicyTypes(egressRules);
  const ok = Array.isArray(v) && v.length <= 2 && v.every((x) => ALL_DIRECTIONS.includes(x as PolicyDirection)) && new Set(v).size === v.length;
  if (ok) return v as PolicyDirection[];
  return void sink.add('spec.policyTypes', `is ${describeValue(v)}; use Ingress, Egress or both, each once`);
}

/** undefined only when the policy has no usable name (reported); see the header for what a
 * policy with bad fields becomes. */
export function decodeNetworkPolicy(policy: NetworkPolicy, problems: Problem[]): NetworkPolicyRow | undefined {
  const id = objectName('NetworkPolicy', policy.metadata, problems);
  if (!id) return undefined;
  const sink = new ProblemSink(problems, `NetworkPolicy ${id.namespace}/${id.name}`);
  const closed = (field: string, policyTypes: readonly PolicyDirection[], why: string): NetworkPolicyRow => {
    sink.add(field, `${why}, so this policy isolates every pod of namespace ${id.namespace} for ${policyTypes.join(' and ')} and allows nothing until it is fixed`);
    return { namespace: id.namespace, name: id.name, podSelector: { matchLabels: {}, matchExpressions: [] }, policyTypes, ingress: [], egress: [] };
  };
  // An absent spec is an empty one, as the API server decodes it: all pods, Ingress, no rule.
  const spec = policy.spec ?? {};
  if (!isRecord(spec)) return closed('spec', ALL_DIRECTIONS, `is ${describeValue(spec)}, not an object`);
  const podSelector = decodeLabelSelector(spec.podSelector, 'spec.podSelector', sink);
  const ingress = decodeRules(spec.ingress, 'spec.ingress', 'from', sink);
  const egress = decodeRules(spec.egress, 'spec.egress', 'to', sink);
  // Inferred from the egress rules written, bad or not, as the API server defaults it.
  const policyTypes = decodePolicyTypes(spec.policyTypes, Array.isArray(spec.egress) ? spec.egress.length : 0, sink);
  if (!policyTypes) return closed('spec.policyTypes', ALL_DIRECTIONS, 'cannot be read');
  if (!podSelector) return closed('spec.podSelector', policyTypes, 'cannot be read');
  return { namespace: id.namespace, name: id.name, podSelector, policyTypes, ingress, egress };
}
