// Pods and Namespaces, decoded into the rows NetworkPolicy is computed from (policy-objects.ts):
// a pod's node, labels, addresses and named container ports; a namespace's labels. A bad field
// is reported and left out; what is left out can only make a policy match less (a named port
// that is not there resolves to nothing), never more. Pure.
import { isRecord, objectName } from './k8s-decode.js';
import type { Namespace, Pod } from './k8s-objects.js';
import { decodeLabels } from './label-decode.js';
import { podAddresses } from './host-addresses.js';
import { NAMESPACE_NAME_LABEL, type NamedPort, type NamespaceRow, type PodRow, type PolicyProtocol } from './policy-objects.js';
import { describeValue, ProblemSink, type Problem } from './problems.js';

const PROTOCOLS: readonly PolicyProtocol[] = ['TCP', 'UDP', 'SCTP'];

/** An IANA service name (validation.IsValidPortName): what a named port may be called. */
export function portNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return 'a port name is 1 to 15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'a port name holds only lowercase letters, digits and "-"';
  if (!/[a-z]/.test(name)) return 'a port name holds at least one letter (a number is a port, not a name)';
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) return 'a port name neither starts nor ends with "-", nor has "--"';
  return undefined;
}

/** protocol, default TCP; undefined (reported) when it is none of TCP, UDP, SCTP. */
export function decodePolicyProtocol(v: unknown, field: string, sink: ProblemSink): PolicyProtocol | undefined {
  if (v === undefined || v === null) return 'TCP';
  if (PROTOCOLS.includes(v as PolicyProtocol)) return v as PolicyProtocol;
  return void sink.add(field, `is ${describeValue(v)}; use TCP, UDP or SCTP`);
}

export const isPortNumber = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

function namedPorts(containers: unknown, sink: ProblemSink): NamedPort[] {
  const out: NamedPort[] = [];
  if (containers === undefined || containers === null) return out;
  if (!Array.isArray(containers)) {
    sink.add('spec.containers', `is ${describeValue(containers)}; expected a list`);
    return out;
  }
  containers.forEach((c: unknown, i) => {
    const ports = isRecord(c) ? c.ports : undefined;
    if (ports === undefined || ports === null) return;
    if (!Array.isArray(ports)) return sink.add(`spec.containers[${i}].ports`, `is ${describeValue(ports)}; expected a list`);
    ports.forEach((p: unknown, j) => {
      const field = `spec.containers[${i}].ports[${j}]`;
      if (!isRecord(p) || p.name === undefined || p.name === null || p.name === '') return; // unnamed: no policy can name it
      const problem = typeof p.name === 'string' ? portNameProblem(p.name) : 'a port name is a string';
      if (problem !== undefined) return sink.add(`${field}.name`, `is ${describeValue(p.name)}; ${problem}; no policy can name this port`);
      if (!isPortNumber(p.containerPort)) return sink.add(`${field}.containerPort`, `is ${describeValue(p.containerPort)}; a port is an integer from 1 to 65535`);
      const protocol = decodePolicyProtocol(p.protocol, `${field}.protocol`, sink);
      if (protocol) out.push({ name: p.name as string, port: p.containerPort, protocol });
    });
  });
  return out;
}

/** undefined when the pod has no usable name (reported). */
export function decodePod(pod: Pod, problems: Problem[]): PodRow | undefined {
  const id = objectName('Pod', pod.metadata, problems);
  if (!id) return undefined;
  const sink = new ProblemSink(problems, `Pod ${id.namespace}/${id.name}`);
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const nodeName = typeof spec.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : undefined;
  if (spec.nodeName !== undefined && spec.nodeName !== null && typeof spec.nodeName !== 'string')
    sink.add('spec.nodeName', `is ${describeValue(spec.nodeName)}; expected a node's name`);
  // Every field named, none spread: one hidden class for all rows (see decodeSlice).
  return {
    namespace: id.namespace,
    name: id.name,
    nodeName,
    labels: decodeLabels(pod.metadata?.labels, 'metadata.labels', sink),
    ips: podAddresses(pod, problems),
    namedPorts: namedPorts(spec.containers, sink),
  };
}

/** undefined when the namespace has no usable name (reported). Namespaces are cluster-scoped:
 * metadata.namespace is not read. */
export function decodeNamespace(ns: Namespace, problems: Problem[]): NamespaceRow | undefined {
  const name = isRecord(ns.metadata) ? ns.metadata.name : undefined;
  if (typeof name !== 'string' || name === '') {
    problems.push({ object: 'Namespace ?', field: 'metadata.name', message: `is ${describeValue(name)}; every Namespace needs a string metadata.name` });
    return undefined;
  }
  const labels = decodeLabels(ns.metadata?.labels, 'metadata.labels', new ProblemSink(problems, `Namespace ${name}`));
  // The API server sets this label on every namespace to its name, whatever was written.
  labels[NAMESPACE_NAME_LABEL] = name;
  return { name, labels };
}
