// Reads a services file: YAML (one or more documents) or JSON holding v1 Service and
// discovery.k8s.io/v1 EndpointSlice objects, alone or in List objects as kubectl prints them.
import { readFileSync } from 'node:fs';
import jsYaml from 'js-yaml';
import type { EndpointSlice, Service } from '../model/k8s-objects.js';

export interface ServicesFileContent {
  services: Service[];
  slices: EndpointSlice[];
  /** Kinds present but not read, e.g. Deployment, so a log can say they were ignored. */
  ignoredKinds: string[];
}

/** The file cannot be read as a whole; the caller keeps its last good state. */
export class ServicesFileError extends Error {
  override readonly name = 'ServicesFileError';
}

const LIST_ITEM_KINDS: Record<string, string> = { ServiceList: 'Service', EndpointSliceList: 'EndpointSlice' };

function collect(obj: unknown, out: ServicesFileContent, where: string, impliedKind?: string): void {
  if (obj === null || obj === undefined) return; // an empty YAML document
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    throw new ServicesFileError(`${where}: expected a Kubernetes object, found ${Array.isArray(obj) ? 'a list' : typeof obj}`);
  }
  const o = obj as Record<string, unknown>;
  const kind = typeof o.kind === 'string' ? o.kind : impliedKind;
  if (kind === 'List' || (kind !== undefined && kind in LIST_ITEM_KINDS)) {
    if (!Array.isArray(o.items)) throw new ServicesFileError(`${where}: ${kind} has no items list`);
    o.items.forEach((item, i) => collect(item, out, `${where}.items[${i}]`, LIST_ITEM_KINDS[kind]));
    return;
  }
  if (kind === 'Service') out.services.push(o as Service);
  else if (kind === 'EndpointSlice') out.slices.push(o as EndpointSlice);
  else out.ignoredKinds.push(kind ?? '(no kind)');
}

function parseDocuments(text: string, source: string): unknown[] {
  // JSON is YAML, but JSON.parse is several times faster on the large files kubectl prints.
  if (/^\s*[{[]/.test(text)) {
    try {
      return [JSON.parse(text)];
    } catch {
      // not strict JSON (flow-style YAML, say): the YAML parser decides
    }
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
  const out: ServicesFileContent = { services: [], slices: [], ignoredKinds: [] };
  parseDocuments(text, source).forEach((doc, i) => collect(doc, out, `${source}: document ${i + 1}`));
  return out;
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
