// Turns Services and EndpointSlices into desired frontends: one per cluster IP, port and
// protocol, each with the endpoints new connections may use. Pure: no I/O, no clock. Bad
// fields are reported as problems and skip only what they affect.
import type { Backend, DesiredService, Protocol } from '../datapath/desired-state.js';
import { frontendId } from '../datapath/desired-state.js';
import { canonicalIp, ipFamily, type IpFamily } from '../net/ip-address.js';
import { endpointConditions, selectEndpoints, type EndpointCandidate } from './endpoint-selection.js';
import { SERVICE_NAME_LABEL, SERVICE_PROXY_NAME_LABEL, type EndpointSlice, type ObjectMeta, type Service } from './k8s-objects.js';
import { describeValue, ProblemSink, type Problem } from './problems.js';

export interface DesiredState {
  services: DesiredService[];
  problems: Problem[];
}

interface NamedObject {
  namespace: string;
  name: string;
}

/** A slice's endpoint port, decoded. port undefined means "all ports" (a nil port in the API). */
interface SlicePort {
  name: string;
  protocol: Protocol;
  port: number | undefined;
}

interface DecodedSlice extends NamedObject {
  family: IpFamily;
  ports: SlicePort[];
  endpoints: { address: string; ready: boolean; serving: boolean; terminating: boolean }[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

/** Calls fn for each object in a list field, reporting a non-list and each non-object item. */
function eachRecord(list: unknown, field: string, sink: ProblemSink, fn: (item: Record<string, unknown>, itemField: string) => void): void {
  if (!Array.isArray(list)) return sink.add(field, `is ${describeValue(list)}; expected a list`);
  list.forEach((item: unknown, i) => {
    const itemField = `${field}[${i}]`;
    if (isRecord(item)) fn(item, itemField);
    else sink.add(itemField, `is ${describeValue(item)}; expected an object`);
  });
}

const portProblem = (v: unknown): string => `is ${describeValue(v)}; a port is an integer from 1 to 65535`;

function objectName(kind: string, meta: ObjectMeta | undefined, problems: Problem[]): NamedObject | undefined {
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

function labelOf(meta: ObjectMeta | undefined, label: string): string | undefined {
  const labels = meta?.labels;
  if (!isRecord(labels)) return undefined;
  const v = labels[label];
  return typeof v === 'string' ? v : undefined;
}

function decodeProtocol(v: unknown, field: string, sink: ProblemSink): Protocol | undefined {
  if (v === undefined || v === null || v === 'TCP') return 'TCP';
  if (v === 'UDP') return 'UDP';
  sink.add(field, `${describeValue(v)} is not supported; socklb balances TCP and UDP (SCTP ports are skipped)`);
  return undefined;
}

function decodeSlice(slice: EndpointSlice, problems: Problem[]): (DecodedSlice & { service: string }) | undefined {
  const id = objectName('EndpointSlice', slice.metadata, problems);
  if (!id) return undefined;
  const sink = new ProblemSink(problems, `EndpointSlice ${id.namespace}/${id.name}`);
  const service = labelOf(slice.metadata, SERVICE_NAME_LABEL);
  if (service === undefined) return undefined; // not managed for a Service: kube-proxy ignores these too
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
    if (p.port !== undefined && p.port !== null && !isPort(p.port)) return sink.add(`${field}.port`, portProblem(p.port));
    ports.push({ name: typeof p.name === 'string' ? p.name : '', protocol, port: isPort(p.port) ? p.port : undefined });
  });
  const endpoints: DecodedSlice['endpoints'] = [];
  eachRecord(slice.endpoints ?? [], 'endpoints', sink, (e, field) => {
    // Addresses are fungible by API contract; like kube-proxy we use the first.
    const address = Array.isArray(e.addresses) ? (e.addresses[0] as unknown) : undefined;
    if (typeof address !== 'string' || ipFamily(address) !== family) {
      return sink.add(`${field}.addresses[0]`, `is ${describeValue(address)}; expected an ${slice.addressType} address as addressType says`);
    }
    const conditions = isRecord(e.conditions) ? e.conditions : undefined;
    endpoints.push({ address: canonicalIp(address), ...endpointConditions(conditions) });
  });
  return { ...id, service, family, ports, endpoints };
}

interface DecodedServicePort {
  name: string;
  protocol: Protocol;
  port: number;
  targetPort: number | string | undefined;
  field: string;
}

/** The slice port serving a service port: same name and protocol, as the EndpointSlice
 * controller names slice ports after service ports. A named targetPort is tried next, for
 * files written by hand that name slice ports after the container port. */
function slicePortFor(slice: DecodedSlice, sp: DecodedServicePort): number | undefined {
  const byName = (name: string): SlicePort | undefined => slice.ports.find((p) => p.name === name && p.protocol === sp.protocol);
  const match = byName(sp.name) ?? (typeof sp.targetPort === 'string' ? byName(sp.targetPort) : undefined);
  if (!match) return undefined;
  if (match.port !== undefined) return match.port;
  return typeof sp.targetPort === 'number' ? sp.targetPort : sp.port;
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
    out.push({ name: typeof p.name === 'string' ? p.name : '', protocol, port: p.port, targetPort: t as number | string | undefined, field });
  });
  return out;
}

function decodeClusterIPs(spec: Record<string, unknown>, sink: ProblemSink): { ip: string; family: IpFamily; field: string }[] {
  const list = spec.clusterIPs ?? (spec.clusterIP === undefined ? undefined : [spec.clusterIP]);
  const listField = spec.clusterIPs !== undefined ? 'spec.clusterIPs' : 'spec.clusterIP';
  if (!Array.isArray(list) || list.length === 0) {
    sink.add(listField, `is ${describeValue(list)}; a ClusterIP Service needs spec.clusterIPs (or spec.clusterIP)`);
    return [];
  }
  const out: { ip: string; family: IpFamily; field: string }[] = [];
  list.forEach((ip: unknown, i) => {
    const field = spec.clusterIPs !== undefined ? `spec.clusterIPs[${i}]` : 'spec.clusterIP';
    const family = typeof ip === 'string' ? ipFamily(ip) : undefined;
    if (typeof ip !== 'string' || family === undefined) return sink.add(field, `is ${describeValue(ip)}; expected an IPv4 or IPv6 address`);
    out.push({ ip: canonicalIp(ip), family, field });
  });
  return out;
}

function isHeadless(spec: Record<string, unknown>): boolean {
  return spec.clusterIP === 'None' || (Array.isArray(spec.clusterIPs) && spec.clusterIPs[0] === 'None');
}

export function desiredServices(services: readonly Service[], slices: readonly EndpointSlice[]): DesiredState {
  const problems: Problem[] = [];
  const objects = <T>(kind: string, list: readonly T[]): T[] =>
    list.filter((o, i) => {
      if (isRecord(o)) return true;
      problems.push({ object: `${kind} #${i + 1}`, field: '(object)', message: `is ${describeValue(o)}; expected a ${kind} object` });
      return false;
    });
  const slicesByService = new Map<string, DecodedSlice[]>();
  for (const raw of objects('EndpointSlice', slices)) {
    const s = decodeSlice(raw, problems);
    if (!s) continue;
    const key = `${s.namespace}/${s.service}`;
    const list = slicesByService.get(key) ?? [];
    list.push(s);
    slicesByService.set(key, list);
  }

  const named = objects('Service', services)
    .map((raw) => {
      const id = objectName('Service', raw.metadata, problems);
      return { raw, id, owner: id ? `${id.namespace}/${id.name}` : '' };
    })
    .filter((x): x is { raw: Service; id: NamedObject; owner: string } => x.id !== undefined)
    // Sorted so that when two services claim one VIP:port the same one wins on every run.
    .sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));

  const out: DesiredService[] = [];
  const claimedBy = new Map<string, string>();
  for (const { raw, owner } of named) {
    const sink = new ProblemSink(problems, `Service ${owner}`);
    if (labelOf(raw.metadata, SERVICE_PROXY_NAME_LABEL) !== undefined) continue;
    const spec = raw.spec;
    if (!isRecord(spec)) {
      sink.add('spec', `is ${describeValue(spec)}; expected an object`);
      continue;
    }
    if (spec.type === 'ExternalName' || isHeadless(spec)) continue;
    const ips = decodeClusterIPs(spec, sink);
    const ports = decodeServicePorts(spec, sink);
    const serviceSlices = slicesByService.get(owner) ?? [];
    for (const { ip, family, field } of ips) {
      const familySlices = serviceSlices.filter((s) => s.family === family);
      for (const sp of ports) {
        const candidates: EndpointCandidate[] = [];
        let portFound = false;
        for (const slice of familySlices) {
          const port = slicePortFor(slice, sp);
          if (port === undefined) continue;
          portFound = true;
          for (const e of slice.endpoints) candidates.push({ ...e, port });
        }
        if (!portFound && familySlices.some((s) => s.endpoints.length > 0)) {
          sink.add(
            `${sp.field}.name`,
            `no EndpointSlice port is named ${describeValue(sp.name)} with protocol ${sp.protocol}; name slice ports after the service port so its endpoints can be used`,
          );
        }
        const frontend = { address: ip, port: sp.port, protocol: sp.protocol };
        const fid = frontendId(frontend);
        const holder = claimedBy.get(fid);
        if (holder !== undefined) {
          sink.add(field, `${ip} port ${sp.port}/${sp.protocol} is already served for Service ${holder}; this port is skipped until one of them changes`);
          continue;
        }
        claimedBy.set(fid, owner);
        const backends: Backend[] = selectEndpoints(candidates);
        out.push({ frontend, backends, owner: sp.name ? `${owner}:${sp.name}` : owner });
      }
    }
  }
  return { services: out, problems };
}
