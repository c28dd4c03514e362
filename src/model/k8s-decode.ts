// Checks and decodes the Service and EndpointSlice fields socklb uses. Objects come from files
// people write and from API servers of every version, so every field is checked; a bad field
// is reported (object, field, what to do) and skips only what it affects. Pure.
import type { Protocol } from './desired-services.js';
import { describeAddressClass, unusableAddressClass } from '../net/address-class.js';
import { canonicalIp, ipFamily, type IpFamily } from '../net/ip-address.js';
import { endpointConditions } from './endpoint-selection.js';
import { SERVICE_NAME_LABEL, SERVICE_PROXY_NAME_LABEL, type EndpointSlice, type ObjectMeta, type Service } from './k8s-objects.js';
import { describeValue, ProblemSink, type Problem } from './problems.js';
import { decodeAddress, eachRecord, isPort, isRecord, itemFieldName, portProblem, type DecodedAddress } from './decode-fields.js';
import { decodeExternal, decodeNodePort, type DecodedExternal } from './external-decode.js';

export { isRecord };

export interface NamedObject {
  namespace: string;
  name: string;
}

/** A slice's endpoint port, decoded (ports without a number are skipped, as kube-proxy skips them). */
export interface SlicePort {
  name: string;
  protocol: Protocol;
  port: number;
}

/** An endpoint's conditions, as bits of SliceEndpoints.states. */
export const READY = 1;
export const SERVING = 2;
export const TERMINATING = 4;

/**
 * A slice's endpoints, column by column: one array per field instead of one object per
 * endpoint. The agent keeps every slice of the cluster; an object per endpoint costs ~80 bytes
 * with its array slot, a column entry 8, and at 100,000 endpoints that is ~6 MB of live heap.
 * Entry i of each column belongs to endpoint i.
 */
export interface SliceEndpoints {
  /** Canonical text (see canonicalIp). */
  addresses: string[];
  /** READY | SERVING | TERMINATING bits. */
  states: number[];
  /** endpoints[].nodeName; undefined when no endpoint of the slice names a node. */
  nodeNames: (string | undefined)[] | undefined;
  /** endpoints[].hints.forZones[].name; undefined when no endpoint of the slice has hints. */
  zoneHints: (string[] | undefined)[] | undefined;
}

export interface DecodedSlice extends NamedObject {
  /** namespace/name of the Service it belongs to (kubernetes.io/service-name). */
  owner: string;
  family: IpFamily;
  ports: SlicePort[];
  endpoints: SliceEndpoints;
}

export interface DecodedServicePort {
  name: string;
  protocol: Protocol;
  port: number;
  targetPort: number | string | undefined;
  field: string;
  /** spec.ports[i].nodePort of a NodePort or LoadBalancer service; undefined: none. */
  nodePort: number | undefined;
}

export interface DecodedService extends NamedObject {
  owner: string;
  clusterIPs: DecodedAddress[];
  ports: DecodedServicePort[];
  /** spec.internalTrafficPolicy: Local */
  localOnly: boolean;
  /** Topology-aware routing asked for, by annotation or spec.trafficDistribution. */
  topologyAware: boolean;
  /** spec.sessionAffinity ClientIP: its timeout in seconds; 0 without affinity. */
  affinityTimeoutSeconds: number;
  /** externalIPs, load-balancer IPs and their policies (external-decode.ts). */
  external: DecodedExternal;
}

/** "namespace/name" as one flat string: join() yields one, a template literal a tree of
 * concatenation nodes (~2 times the bytes), and these keys are kept for every object. */
export function flatKey(namespace: string, name: string): string {
  return [namespace, name].join('/');
}

/** "namespace/name" of an object, or undefined when it has no usable name. */
export function objectKey(obj: unknown): string | undefined {
  const meta = isRecord(obj) ? obj.metadata : undefined;
  if (!isRecord(meta) || typeof meta.name !== 'string' || meta.name === '') return undefined;
  const namespace = meta.namespace ?? 'default';
  return typeof namespace === 'string' ? flatKey(namespace, meta.name) : undefined;
}

/** namespace and name, or a problem when either is not a string. */
export function objectName(kind: string, meta: ObjectMeta | undefined, problems: Problem[]): NamedObject | undefined {
  const name = meta?.name;
  const namespace = meta?.namespace ?? 'default';
  if (typeof name !== 'string' || name === '' || typeof namespace !== 'string') {
    problems.push({
      object: `${kind} ${typeof namespace === 'string' ? namespace : '?'}/${typeof name === 'string' ? name : '?'}`,
      field: 'metadata.name',
      message: `is ${describeValue(name)}; every object needs a string metadata.name (and metadata.namespace, default "default")`,
    });
    return undefined;
  }
  return { namespace, name };
}

function stringEntry(map: unknown, key: string): string | undefined {
  if (!isRecord(map)) return undefined;
  const v = map[key];
  return typeof v === 'string' ? v : undefined;
}

function decodeProtocol(v: unknown, field: string, sink: ProblemSink): Protocol | undefined {
  if (v === undefined || v === null || v === 'TCP') return 'TCP';
  if (v === 'UDP') return 'UDP';
  sink.add(field, `${describeValue(v)} is not supported; socklb balances TCP and UDP (SCTP ports are skipped)`);
  return undefined;
}

/** Conditions are booleans; a string "true" reads as not ready, which is worth saying. */
function checkConditionTypes(c: Record<string, unknown> | undefined, field: string, sink: ProblemSink): void {
  if (c === undefined) return;
  for (const name of ['ready', 'serving', 'terminating']) {
    const v = c[name];
    if (v !== undefined && v !== null && typeof v !== 'boolean') {
      sink.add(`${field}.${name}`, `is ${describeValue(v)}; a condition is true, false or unset (a ${typeof v} counts as ${name === 'terminating' ? 'false' : 'not ' + name})`);
    }
  }
}

function zoneHints(e: Record<string, unknown>): string[] | undefined {
  const hints = isRecord(e.hints) ? e.hints.forZones : undefined;
  if (!Array.isArray(hints)) return undefined;
  return hints.map((z: unknown) => stringEntry(z, 'name')).filter((z): z is string => z !== undefined);
}

/** undefined for slices socklb does not use: not labelled for a Service (kube-proxy ignores those too), FQDN, or invalid. */
export function decodeSlice(slice: EndpointSlice, problems: Problem[]): DecodedSlice | undefined {
  const id = objectName('EndpointSlice', slice.metadata, problems);
  if (!id) return undefined;
  const sink = new ProblemSink(problems, `EndpointSlice ${id.namespace}/${id.name}`);
  const service = stringEntry(slice.metadata?.labels, SERVICE_NAME_LABEL);
  if (service === undefined) return undefined;
  if (slice.addressType === 'FQDN') return undefined;
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') {
    sink.add('addressType', `is ${describeValue(slice.addressType)}; use IPv4 or IPv6`);
    return undefined;
  }
  const family: IpFamily = slice.addressType === 'IPv4' ? 4 : 6;
  const ports: SlicePort[] = [];
  eachRecord(slice.ports ?? [], 'ports', sink, (p, field) => {
    const protocol = decodeProtocol(p.protocol, `${field}.protocol`, sink);
    if (!protocol) return;
    // A slice port without a number is "all ports" in the API, but kube-proxy skips it
    // (pkg/proxy/endpointslicecache.go): so do we, and say so.
    if (p.port === undefined || p.port === null) return sink.add(`${field}.port`, 'is missing; a slice port without a number is not used (as kube-proxy does); give the port its number');
    if (!isPort(p.port)) return sink.add(`${field}.port`, portProblem(p.port));
    ports.push({ name: typeof p.name === 'string' ? p.name : '', protocol, port: p.port });
  });
  const endpoints: SliceEndpoints = { addresses: [], states: [], nodeNames: undefined, zoneHints: undefined };
  eachRecord(slice.endpoints ?? [], 'endpoints', sink, (e, field) => {
    // Addresses are fungible by API contract; like kube-proxy we use the first.
    const address = Array.isArray(e.addresses) ? (e.addresses[0] as unknown) : undefined;
    if (typeof address !== 'string' || ipFamily(address) !== family) {
      return sink.add(`${field}.addresses[0]`, `is ${describeValue(address)}; expected an ${slice.addressType} address as addressType says`);
    }
    const unusable = unusableAddressClass(address);
    if (unusable !== undefined) {
      return sink.add(`${field}.addresses[0]`, `is ${describeAddressClass(unusable)} (${address}); an endpoint must be a pod's unicast address, so this endpoint is not used`);
    }
    const conditions = isRecord(e.conditions) ? e.conditions : undefined;
    checkConditionTypes(conditions, `${field}.conditions`, sink);
    const { ready, serving, terminating } = endpointConditions(conditions);
    const at = endpoints.addresses.length;
    endpoints.addresses.push(canonicalIp(address));
    endpoints.states.push((ready ? READY : 0) | (serving ? SERVING : 0) | (terminating ? TERMINATING : 0));
    if (typeof e.nodeName === 'string') (endpoints.nodeNames ??= [])[at] = e.nodeName;
    const hints = zoneHints(e);
    if (hints) (endpoints.zoneHints ??= [])[at] = hints;
  });
  // Columns filled only from some endpoint on have holes before it: fill them, so the
  // arrays stay packed (a holey array is slower to read and may turn into a dictionary).
  const n = endpoints.addresses.length;
  for (const column of [endpoints.nodeNames, endpoints.zoneHints]) if (column) for (let i = 0; i < n; i++) column[i] ??= undefined;
  // Every field named in the literal, none spread: one shared hidden class for all slices.
  // (A spread of the id object gives each decoded object a hidden class of its own, ~300 bytes.)
  return { namespace: id.namespace, name: id.name, owner: flatKey(id.namespace, service), family, ports, endpoints };
}

function decodeServicePorts(spec: Record<string, unknown>, sink: ProblemSink): DecodedServicePort[] {
  const out: DecodedServicePort[] = [];
  if (Array.isArray(spec.ports) && spec.ports.length === 0) {
    sink.add('spec.ports', 'is []; a Service needs at least one port');
    return out;
  }
  eachRecord(spec.ports, 'spec.ports', sink, (p, field) => {
    if (!isPort(p.port)) return sink.add(`${field}.port`, portProblem(p.port));
    const protocol = decodeProtocol(p.protocol, `${field}.protocol`, sink);
    if (!protocol) return;
    const t = p.targetPort;
    if (t !== undefined && !isPort(t) && (typeof t !== 'string' || t === '')) {
      return sink.add(`${field}.targetPort`, `is ${describeValue(t)}; use a port number or a port name`);
    }
    const nodePort = decodeNodePort(spec, p, field, sink);
    out.push({ name: typeof p.name === 'string' ? p.name : '', protocol, port: p.port, targetPort: t as number | string | undefined, field, nodePort });
  });
  return out;
}

function decodeClusterIPs(spec: Record<string, unknown>, sink: ProblemSink): DecodedAddress[] {
  const list = spec.clusterIPs ?? (spec.clusterIP === undefined ? undefined : [spec.clusterIP]);
  const listField = spec.clusterIPs !== undefined ? 'spec.clusterIPs' : 'spec.clusterIP';
  if (!Array.isArray(list) || list.length === 0) {
    sink.add(listField, `is ${describeValue(list)}; a ClusterIP Service needs spec.clusterIPs (or spec.clusterIP)`);
    return [];
  }
  const out: DecodedAddress[] = [];
  list.forEach((ip: unknown, i) => {
    const field = spec.clusterIPs !== undefined ? itemFieldName('spec.clusterIPs', i) : 'spec.clusterIP';
    const decoded = decodeAddress(ip, field, sink, "use an address of the cluster's service CIDR");
    if (decoded) out.push(decoded);
  });
  return out;
}

/** The API's default and ceiling for sessionAffinityConfig.clientIP.timeoutSeconds. */
export const AFFINITY_DEFAULT_SECONDS = 10800;
const AFFINITY_MAX_SECONDS = 86400;

function decodeAffinity(spec: Record<string, unknown>, sink: ProblemSink): number {
  if (spec.sessionAffinity !== 'ClientIP') return 0;
  const config = isRecord(spec.sessionAffinityConfig) ? spec.sessionAffinityConfig : undefined;
  const timeout = isRecord(config?.clientIP) ? config.clientIP.timeoutSeconds : undefined;
  if (timeout === undefined || timeout === null) return AFFINITY_DEFAULT_SECONDS;
  if (!Number.isInteger(timeout) || (timeout as number) < 1 || (timeout as number) > AFFINITY_MAX_SECONDS) {
    sink.add('spec.sessionAffinityConfig.clientIP.timeoutSeconds', `is ${describeValue(timeout)}; use 1 to ${AFFINITY_MAX_SECONDS} (default ${AFFINITY_DEFAULT_SECONDS} is used)`);
    return AFFINITY_DEFAULT_SECONDS;
  }
  return timeout as number;
}

const TOPOLOGY_ANNOTATIONS = ['service.kubernetes.io/topology-mode', 'service.kubernetes.io/topology-aware-hints'];

/** undefined for services socklb does not program: headless, ExternalName, another proxy's, or without a valid spec. */
export function decodeService(service: Service, problems: Problem[]): DecodedService | undefined {
  const id = objectName('Service', service.metadata, problems);
  if (!id) return undefined;
  const owner = flatKey(id.namespace, id.name);
  const sink = new ProblemSink(problems, `Service ${owner}`);
  if (stringEntry(service.metadata?.labels, SERVICE_PROXY_NAME_LABEL) !== undefined) return undefined;
  const spec = service.spec;
  if (!isRecord(spec)) {
    sink.add('spec', `is ${describeValue(spec)}; expected an object`);
    return undefined;
  }
  if (spec.type === 'ExternalName') return undefined;
  if (spec.clusterIP === 'None' || (Array.isArray(spec.clusterIPs) && spec.clusterIPs[0] === 'None')) return undefined;
  const annotations = service.metadata?.annotations;
  const topologyAware = TOPOLOGY_ANNOTATIONS.some((a) => ['Auto', 'auto'].includes(stringEntry(annotations, a) ?? '')) || spec.trafficDistribution === 'PreferClose';
  // Every field named, none spread: one hidden class for all (see decodeSlice).
  return {
    namespace: id.namespace,
    name: id.name,
    owner,
    clusterIPs: decodeClusterIPs(spec, sink),
    ports: decodeServicePorts(spec, sink),
    localOnly: spec.internalTrafficPolicy === 'Local',
    topologyAware,
    affinityTimeoutSeconds: decodeAffinity(spec, sink),
    external: decodeExternal(spec, service.status, sink),
  };
}
