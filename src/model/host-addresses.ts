// Addresses that belong to pods and nodes. A Service whose cluster IP is one of them would
// capture that pod's or node's traffic for every balanced process (direct pod-to-pod traffic
// hijacked), so the index refuses such cluster IPs. Decoded from Pod status.podIPs and Node
// status.addresses; a bad entry is reported and skipped. Pure.
import { canonicalIp, ipFamily } from '../net/ip-address.js';
import { isRecord, objectName } from './k8s-decode.js';
import type { Node, Pod } from './k8s-objects.js';
import { describeValue, ProblemSink, type Problem } from './problems.js';

function collectAddress(out: string[], value: unknown, field: string, sink: ProblemSink): void {
  if (typeof value !== 'string' || ipFamily(value) === undefined) return sink.add(field, `is ${describeValue(value)}; expected an IPv4 or IPv6 address`);
  const ip = canonicalIp(value);
  if (!out.includes(ip)) out.push(ip);
}

/** status.podIPs[].ip, or status.podIP when the list is absent. */
export function podAddresses(pod: Pod, problems: Problem[]): string[] {
  const id = objectName('Pod', pod.metadata, problems);
  const out: string[] = [];
  if (!id || !isRecord(pod.status)) return out;
  const sink = new ProblemSink(problems, `Pod ${id.namespace}/${id.name}`);
  const { podIP, podIPs } = pod.status;
  if (Array.isArray(podIPs)) podIPs.forEach((p: unknown, i) => collectAddress(out, isRecord(p) ? p.ip : p, `status.podIPs[${i}].ip`, sink));
  else if (podIP !== undefined && podIP !== null && podIP !== '') collectAddress(out, podIP, 'status.podIP', sink);
  return out;
}

/** Node addresses that are IPs (InternalIP, ExternalIP); Hostname and DNS entries are names, not addresses. */
export function nodeAddresses(node: Node, problems: Problem[]): string[] {
  const out: string[] = [];
  const meta = node.metadata;
  if (!isRecord(meta) || typeof meta.name !== 'string' || meta.name === '') {
    problems.push({ object: 'Node ?', field: 'metadata.name', message: `is ${describeValue(meta?.name)}; every Node needs a string metadata.name` });
    return out;
  }
  const list = isRecord(node.status) ? node.status.addresses : undefined;
  if (!Array.isArray(list)) return out;
  const sink = new ProblemSink(problems, `Node ${meta.name}`);
  list.forEach((a: unknown, i) => {
    if (isRecord(a) && (a.type === 'InternalIP' || a.type === 'ExternalIP')) collectAddress(out, a.address, `status.addresses[${i}].address`, sink);
  });
  return out;
}
