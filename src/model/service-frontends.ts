// One Service with its EndpointSlices → its frontends: one per cluster IP, port and protocol,
// each with the endpoints this node's connections may use. Pure: no I/O, no clock.
import type { DesiredService } from './desired-services.js';
import { selectEndpoints, type EndpointCandidate, type NodeContext } from './endpoint-selection.js';
import { READY, SERVING, TERMINATING, type DecodedService, type DecodedServicePort, type DecodedSlice } from './k8s-decode.js';
import { describeValue, type ProblemSink } from './problems.js';

export interface ServiceFrontend extends DesiredService {
  /** The clusterIPs field it came from, for conflict reports. */
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

/** refuse says why a cluster IP must not be programmed (outside the service CIDRs, a pod's
 * address), or undefined; a refused cluster IP is reported on its field and gets no frontend. */
export function serviceFrontends(
  svc: DecodedService,
  slices: readonly DecodedSlice[],
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
    const familySlices = slices.filter((s) => s.family === family);
    for (const sp of svc.ports) {
      const candidates: EndpointCandidate[] = [];
      let portFound = false;
      for (const slice of familySlices) {
        const port = slicePortFor(slice, sp);
        if (port === undefined) continue;
        portFound = true;
        const { addresses, states, nodeNames, zoneHints } = slice.endpoints;
        for (let i = 0; i < addresses.length; i++) {
          const state = states[i]!;
          candidates.push({
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
        sink.add(
          `${sp.field}.name`,
          `no EndpointSlice port is named ${describeValue(sp.name)} with protocol ${sp.protocol}; name slice ports after the service port so its endpoints can be used`,
        );
      }
      out.push({
        frontend: { address: ip, port: sp.port, protocol: sp.protocol },
        backends: selectEndpoints(candidates, policy, node),
        owner: sp.name ? [svc.owner, sp.name].join(':') : svc.owner,
        affinityTimeoutSeconds: svc.affinityTimeoutSeconds,
        field,
      });
    }
  }
  return out;
}
