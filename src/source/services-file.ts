// Reads a services file: YAML (one or more documents) or JSON holding v1 Service and
// discovery.k8s.io/v1 EndpointSlice objects (and v1 Pod and Node objects, whose addresses no
// cluster IP may take; v1 Pod and Namespace and networking.k8s.io/v1 NetworkPolicy objects, for
// NetworkPolicy), alone or in List objects as kubectl prints them.
//
// A file is applied as the whole desired state, so a file that is not whole must never be:
// an empty file would delete every service, and a file cut off by a writer that has not
// finished (`kubectl get ... -o yaml > file` truncates first, then writes as output comes)
// would delete the services after the cut. Such files are errors for the whole file, and the
// caller keeps its last good state; an intentionally empty cluster is an explicit empty List.
import { readFileSync } from 'node:fs';
import jsYaml from 'js-yaml';
import { API_VERSIONS, type EndpointSlice, type Namespace, type NetworkPolicy, type Node, type Pod, type Service } from '../model/k8s-objects.js';
import { describeValue, type Problem } from '../model/problems.js';
import { objectKey } from '../model/k8s-decode.js';

export interface ServicesFileContent {
  services: Service[];
  slices: EndpointSlice[];
  pods: Pod[];
  nodes: Node[];
  namespaces: Namespace[];
  policies: NetworkPolicy[];
  /** Kinds present but not read (Deployment, say), once each, so a log can say they were ignored. */
  ignoredKinds: string[];
  /** Objects skipped or overridden while reading (a wrong apiVersion, a name defined twice). */
  problems: Problem[];
}

/** The file cannot be read as a whole; the caller keeps its last good state. */
export class ServicesFileError extends Error {
  override readonly name = 'ServicesFileError';
}

export const EMPTY_CLUSTER_HINT = 'to remove every service on purpose, write an empty List (apiVersion: v1, kind: List, items: [])';

const LIST_ITEM_KINDS: Record<string, string> = {
  ServiceList: 'Service',
  EndpointSliceList: 'EndpointSlice',
  PodList: 'Pod',
  NodeList: 'Node',
  NamespaceList: 'Namespace',
  NetworkPolicyList: 'NetworkPolicy',
};

type Collected = Omit<ServicesFileContent, 'problems' | 'ignoredKinds'>;
const COLLECTED_BY_KIND: Record<string, keyof Collected> = {
  Service: 'services',
  EndpointSlice: 'slices',
  Pod: 'pods',
  Node: 'nodes',
  Namespace: 'namespaces',
  NetworkPolicy: 'policies',
};
/** Kinds without a namespace: named by their name alone. */
const CLUSTER_SCOPED = new Set(['Node', 'Namespace']);

class Collector {
  readonly out: ServicesFileContent = { services: [], slices: [], pods: [], nodes: [], namespaces: [], policies: [], ignoredKinds: [], problems: [] };
  /** Where each kind/namespace/name was first seen, to report a second definition. */
  private readonly seen = new Map<string, string>();

  collect(obj: unknown, where: string, impliedKind?: string): void {
    if (obj === null || obj === undefined) return; // an empty YAML document
    if (typeof obj !== 'object' || Array.isArray(obj)) {
      throw new ServicesFileError(`${where}: expected a Kubernetes object, found ${Array.isArray(obj) ? 'a list' : typeof obj}`);
    }
    const o = obj as Record<string, unknown>;
    const kind = typeof o.kind === 'string' ? o.kind : impliedKind;
    if (kind === undefined) {
      // kubectl writes a List's kind after its items, so items without a kind are a List cut off.
      const cut = 'items' in o ? 'has items but no kind: a List cut off before its closing "kind: List" line (is the file still being written?)' : 'has no kind';
      throw new ServicesFileError(`${where}: ${cut}; every object needs kind and apiVersion`);
    }
    if (kind === 'List' || kind in LIST_ITEM_KINDS) {
      if (!Array.isArray(o.items)) throw new ServicesFileError(`${where}: ${kind} has no items list`);
      if (!this.apiVersionOk(o, kind, where, impliedKind !== undefined)) return;
      o.items.forEach((item, i) => this.collect(item, `${where}.items[${i}]`, LIST_ITEM_KINDS[kind]));
      return;
    }
    const field = COLLECTED_BY_KIND[kind];
    if (field === undefined) {
      if (!this.out.ignoredKinds.includes(kind)) this.out.ignoredKinds.push(kind);
      return;
    }
    if (!this.apiVersionOk(o, kind, where, impliedKind !== undefined)) return;
    const name = objectKey(o);
    if (name !== undefined) {
      const id = `${kind} ${CLUSTER_SCOPED.has(kind) ? name.slice(name.indexOf('/') + 1) : name}`;
      const first = this.seen.get(id);
      if (first !== undefined) this.out.problems.push({ object: id, field: 'metadata.name', message: `is defined twice (${first} and ${where}); the later definition is used` });
      else this.seen.set(id, where);
    }
    (this.out[field] as unknown[]).push(o);
  }

  /** A known kind in another API version is another schema: reported and skipped. Items of a
   * typed list (ServiceList) may leave apiVersion out, as the API server's lists do. */
  private apiVersionOk(o: Record<string, unknown>, kind: string, where: string, implied: boolean): boolean {
    const want = API_VERSIONS[kind]!;
    if (o.apiVersion === want || (implied && o.apiVersion === undefined)) return true;
    const name = objectKey(o);
    this.out.problems.push({
      object: `${kind} ${name ?? `(${where})`}`,
      field: 'apiVersion',
      message: `is ${describeValue(o.apiVersion)}; socklb reads ${kind} ${want}, so this object is skipped`,
    });
    return false;
  }
}

function parseDocuments(text: string, source: string): unknown[] {
  // JSON is YAML, but JSON.parse is several times faster on the large files kubectl prints.
  if (/^\s*[{[]/.test(text)) {
    try {
      return [JSON.parse(text)];
    } catch {
      // not strict JSON (flow-style YAML, say, or JSON cut off): the YAML parser decides
    }
  }
  // kubectl, editors and YAML writers end a file with a newline; a YAML file that ends inside a
  // line was most likely cut off by a writer that has not finished (JSON is whole once it parses).
  if (!text.endsWith('\n')) {
    throw new ServicesFileError(`${source}: the file ends inside a line, so it looks cut off (still being written?); it is not applied. A complete YAML file ends with a newline`);
  }
  try {
    return jsYaml.loadAll(text, undefined, { filename: source });
  } catch (err) {
    const e = err as { reason?: string; mark?: { line: number; column: number }; message: string };
    const where = e.mark ? `line ${e.mark.line + 1}, column ${e.mark.column + 1}` : 'somewhere';
    throw new ServicesFileError(`${source}: ${where}: ${e.reason ?? e.message}; fix the file and save it again`);
  }
}

export function parseServicesText(text: string, source: string): ServicesFileContent {
  if (text.trim() === '') throw new ServicesFileError(`${source} is empty, so it is not applied (a file being rewritten in place is empty at first); ${EMPTY_CLUSTER_HINT}`);
  const documents = parseDocuments(text, source);
  if (documents.every((d) => d === null || d === undefined)) {
    throw new ServicesFileError(`${source} holds no object, so it is not applied; ${EMPTY_CLUSTER_HINT}`);
  }
  const c = new Collector();
  documents.forEach((doc, i) => c.collect(doc, `${source}: document ${i + 1}`));
  return c.out;
}

export function readServicesFile(path: string): ServicesFileContent {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ServicesFileError(`cannot read services file ${path}: ${(err as Error).message}`);
  }
  return parseServicesText(text, path);
}
