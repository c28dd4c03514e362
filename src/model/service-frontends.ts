// One Service with its EndpointSlices → its frontends: one per cluster IP, port and protocol,
// each with the endpoints this node's connections may use. Pure: no I/O, no clock.
import type { DesiredService } from './desired-services.js';
import { selectEndpoints, type EndpointCandidate, type NodeContext } from './endpoint-selection.js';
import { READY, SERVING, TERMINATING, type DecodedService, type DecodedServicePort, type DecodedSlice } from './k8s-decode.js';
import { describeValue, type ProblemSink } from './problems.js';
import type { IpFamily } from '../net/ip-address.js';

export interface ServiceFrontend extends DesiredService {
  /** The field it came from (spec.clusterIPs[0], spec.externalIPs[1], spec.ports[0].nodePort...), for conflict reports. */
  field: string;
}

/** The slice port serving a service port: same name and protocol, as the EndpointSlice
 * controller names slice ports after service ports. A named targetPort is tried next, for
 * files written by hand that name slice ports after the container port. */
function slicePortFor(slice: DecodedSlice, sp: DecodedServicePort): number | undefined {
  let match = slice.ports.find((p) => p.name === sp.name && p.protocol === sp.protocol);
  if (!match && typeof sp.targetPort === 'string') match = slice.ports.find((p) => p.name === sp.targetPort && p.protocol === sp.protocol);
  return match?.port;
}

/**
 * The endpoint candidates of a service port, by family: gathered once per service (and the
 * port-name problem reported once) however many frontends share them, cluster IPs and
 * north-south addresses alike.
 */
export class ServiceEndpoints {
  private readonly byPort = new Map<string, EndpointCandidate[]>();

  constructor(
    private readonly slices: readonly DecodedSlice[],
    private readonly sink: ProblemSink,
  ) {}

  candidates(family: IpFamily, sp: DecodedServicePort): EndpointCandidate[] {
    const id = [family, sp.field].join('|');
    let out = this.byPort.get(id);
    if (out) return out;
    out = [];
    let portFound = false;
    const familySlices = this.slices.filter((s) => s.family === family);
    for (const slice of familySlices) {
      const port = slicePortFor(slice, sp);
      if (port === undefined) continue;
      portFound = true;
      const { addresses, states, nodeNames, zoneHints } = slice.endpoints;
      for (let i = 0; i < addresses.length; i++) {
        const state = states[i]!;
        out.push({
          address: addresses[i]!,
          port,
          ready: (state & READY) !== 0,
          serving: (state & SERVING) !== 0,
          terminating: (state & TERMINATING) !== 0,
          nodeName: nodeNames?.[i],
          zoneHints: zoneHints?.[i],
        });
      }
    }
    if (!portFound && familySlices.some((s) => s.endpoints.addresses.length > 0)) {
      this.sink.add(
        `${sp.field}.name`,
        `no EndpointSlice port is named ${describeValue(sp.name)} with protocol ${sp.protocol}; name slice ports after the service port so its endpoints can be used`,
      );
    }
    this.byPort.set(id, out);
    return out;
  }
}

/** namespace/name:port-name, the owner a frontend of this port names. */
export function portOwner(svc: DecodedService, sp: DecodedServicePort): string {
  return sp.name ? [svc.owner, sp.name].join(':') : svc.owner;
}

/** refuse says why a cluster IP must not be programmed (outside the service CIDRs, a pod's
 * address), or undefined; a refused cluster IP is reported on its field and gets no frontend. */
export function serviceFrontends(
  svc: DecodedService,
  endpoints: ServiceEndpoints,
  node: NodeContext,
  sink: ProblemSink,
  refuse: (ip: string) => string | undefined = () => undefined,
): ServiceFrontend[] {
  const out: ServiceFrontend[] = [];
  const policy = { localOnly: svc.localOnly, topologyAware: svc.topologyAware };
  if (svc.localOnly && node.name === undefined) {
    sink.add('spec.internalTrafficPolicy', 'is Local, but the agent does not know its node (set --node-name or NODE_NAME), so this service gets no endpoints and refuses connections');
  }
  for (const { ip, family, field } of svc.clusterIPs) {
    const refusal = refuse(ip);
    if (refusal !== undefined) {
      sink.add(field, refusal);
      continue;
    }
    for (const sp of svc.ports) {
      out.push({
        frontend: { address: ip, port: sp.port, protocol: sp.protocol },
        backends: selectEndpoints(endpoints.candidates(family, sp), policy, node),
        owner: portOwner(svc, sp),
        affinityTimeoutSeconds: svc.affinityTimeoutSeconds,
        field,
      });
    }
  }
  return out;
}
