// Checks and decodes the Service fields of north-south addresses: spec.externalIPs,
// status.loadBalancer.ingress, spec.ports[].nodePort, externalTrafficPolicy, healthCheckNodePort
// and loadBalancerSourceRanges. A bad value is reported on its field and skips only itself. Pure.
import { parseCidr } from '../net/cidr.js';
import { ipFamily, type IpFamily } from '../net/ip-address.js';
import { decodeAddress, eachRecord, isPort, isRecord, itemFieldName, portProblem, type DecodedAddress } from './decode-fields.js';
import type { ServiceSpec, ServiceStatus } from './k8s-objects.js';
import { describeValue, type ProblemSink } from './problems.js';

export interface SourceRange {
  /** Canonical CIDR text (parseCidr), e.g. "203.0.113.0/24". */
  cidr: string;
  family: IpFamily;
}

export interface DecodedExternal {
  /** spec.externalIPs (any service type). */
  externalIPs: readonly DecodedAddress[];
  /** status.loadBalancer.ingress[].ip of a LoadBalancer service whose ipMode is VIP or unset. */
  loadBalancerIPs: readonly DecodedAddress[];
  /** spec.externalTrafficPolicy: Local. */
  externalPolicyLocal: boolean;
  /** spec.loadBalancerSourceRanges of a LoadBalancer service. */
  sourceRanges: readonly SourceRange[];
  /** spec.healthCheckNodePort of a LoadBalancer service with externalTrafficPolicy Local. */
  healthCheckNodePort?: number;
}

/** Shared by every service without north-south addresses (most of them): no object per service. */
export const NO_EXTERNAL: DecodedExternal = Object.freeze({ externalIPs: [], loadBalancerIPs: [], externalPolicyLocal: false, sourceRanges: [] });

const ADVICE = 'use an address routed to the cluster';

function decodeExternalIPs(spec: ServiceSpec, sink: ProblemSink): DecodedAddress[] {
  const list = spec.externalIPs;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    sink.add('spec.externalIPs', `is ${describeValue(list)}; expected a list of IP addresses`);
    return [];
  }
  const out: DecodedAddress[] = [];
  list.forEach((ip: unknown, i) => {
    const decoded = decodeAddress(ip, itemFieldName('spec.externalIPs', i), sink, ADVICE);
    if (decoded) out.push(decoded);
  });
  return out;
}

/** Ingress points whose ipMode is VIP or unset. Proxy (KEP-1860) means the load balancer
 * rewrites the destination: traffic must reach it, so the IP gets no frontend. A hostname-only
 * ingress (a DNS name) has no address to program: skipped, not a problem. */
function decodeLoadBalancerIPs(status: ServiceStatus | undefined, sink: ProblemSink): DecodedAddress[] {
  const out: DecodedAddress[] = [];
  const lb = isRecord(status) ? status.loadBalancer : undefined;
  const ingress = isRecord(lb) ? lb.ingress : undefined;
  if (ingress === undefined || ingress === null) return out;
  eachRecord(ingress, 'status.loadBalancer.ingress', sink, (ing, field) => {
    const mode = ing.ipMode;
    if (mode !== undefined && mode !== null && mode !== 'VIP' && mode !== 'Proxy') {
      return sink.add(`${field}.ipMode`, `is ${describeValue(mode)}; use VIP or Proxy (this ingress is skipped until then)`);
    }
    if (ing.ip === undefined || ing.ip === null || ing.ip === '' || mode === 'Proxy') return;
    const decoded = decodeAddress(ing.ip, `${field}.ip`, sink, ADVICE);
    if (decoded) out.push(decoded);
  });
  return out;
}

function decodeSourceRanges(spec: ServiceSpec, sink: ProblemSink): SourceRange[] {
  const list = spec.loadBalancerSourceRanges;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    sink.add('spec.loadBalancerSourceRanges', `is ${describeValue(list)}; expected a list of CIDRs`);
    return [];
  }
  const out: SourceRange[] = [];
  list.forEach((text: unknown, i) => {
    const field = itemFieldName('spec.loadBalancerSourceRanges', i);
    if (typeof text !== 'string') return sink.add(field, `is ${describeValue(text)}; expected a CIDR such as 203.0.113.0/24`);
    try {
      const cidr = parseCidr(text.trim()).text;
      out.push({ cidr, family: ipFamily(cidr.slice(0, cidr.indexOf('/')))! });
    } catch (err) {
      sink.add(field, `${(err as Error).message} (this range is left out)`);
    }
  });
  return out;
}

function decodePolicy(spec: ServiceSpec, sink: ProblemSink): boolean {
  const v = spec.externalTrafficPolicy;
  if (v === undefined || v === null || v === 'Cluster' || v === 'Local') return v === 'Local';
  sink.add('spec.externalTrafficPolicy', `is ${describeValue(v)}; use Cluster or Local (Cluster is used)`);
  return false;
}

/** The port the API server allocates where kube-proxy answers a load balancer's health checks:
 * only a LoadBalancer service with externalTrafficPolicy Local has one. */
function decodeHealthCheckNodePort(spec: ServiceSpec, local: boolean, sink: ProblemSink): number | undefined {
  const v = spec.healthCheckNodePort;
  if (v === undefined || v === null || v === 0 || spec.type !== 'LoadBalancer' || !local) return undefined;
  if (isPort(v)) return v;
  sink.add('spec.healthCheckNodePort', `${portProblem(v)} (no health check is answered for this service)`);
  return undefined;
}

export function decodeExternal(spec: ServiceSpec, status: ServiceStatus | undefined, sink: ProblemSink): DecodedExternal {
  const isLoadBalancer = spec.type === 'LoadBalancer';
  const externalIPs = decodeExternalIPs(spec, sink);
  const loadBalancerIPs = isLoadBalancer ? decodeLoadBalancerIPs(status, sink) : [];
  const externalPolicyLocal = decodePolicy(spec, sink);
  const sourceRanges = isLoadBalancer ? decodeSourceRanges(spec, sink) : [];
  const healthCheckNodePort = decodeHealthCheckNodePort(spec, externalPolicyLocal, sink);
  if (externalIPs.length === 0 && loadBalancerIPs.length === 0 && !externalPolicyLocal && sourceRanges.length === 0) return NO_EXTERNAL;
  return { externalIPs, loadBalancerIPs, externalPolicyLocal, sourceRanges, ...(healthCheckNodePort ? { healthCheckNodePort } : {}) };
}

/** spec.ports[i].nodePort of a NodePort or LoadBalancer service, or undefined. A missing one is
 * reported only where the API always allocates one (not allocateLoadBalancerNodePorts: false). */
export function decodeNodePort(spec: ServiceSpec, port: Record<string, unknown>, field: string, sink: ProblemSink): number | undefined {
  if (spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') return undefined;
  const v = port.nodePort;
  if (v === undefined || v === null || v === 0) {
    if (spec.type === 'NodePort' || spec.allocateLoadBalancerNodePorts !== false) {
      sink.add(`${field}.nodePort`, `is ${describeValue(v)}; a ${String(spec.type)} service has a node port on each port (the API server allocates it), so this port gets none on the node's addresses`);
    }
    return undefined;
  }
  if (!isPort(v)) {
    sink.add(`${field}.nodePort`, `${portProblem(v)} (this port gets no node port)`);
    return undefined;
  }
  return v;
}
