// Keeps only the fields socklb reads from the objects the informers cache. The informer holds
// every object for the agent's life; in a real cluster most of an object's bytes are fields we
// never read (managedFields, targetRef, status, selectors), so trimming on arrival is most of
// the memory a large cluster costs. Pure; unit-tested against the fields the model decodes.
import type { KubernetesObject } from '@kubernetes/client-node';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function pick(o: unknown, keys: readonly string[]): Obj | undefined {
  if (!isObj(o)) return undefined;
  const out: Obj = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

const META = ['name', 'namespace', 'labels', 'annotations', 'resourceVersion', 'uid'] as const;
const SERVICE_SPEC = ['type', 'clusterIP', 'clusterIPs', 'ports', 'internalTrafficPolicy', 'trafficDistribution', 'sessionAffinity', 'sessionAffinityConfig'] as const;
const ENDPOINT = ['addresses', 'conditions', 'nodeName', 'hints'] as const;

export function trimObject(resource: string, obj: KubernetesObject): KubernetesObject {
  const o = obj as Obj;
  const base: Obj = { apiVersion: o.apiVersion, kind: o.kind, metadata: pick(o.metadata, META) };
  if (resource === 'services') return { ...base, spec: pick(o.spec, SERVICE_SPEC) } as KubernetesObject;
  if (resource === 'endpointslices') {
    const endpoints = Array.isArray(o.endpoints) ? o.endpoints.map((e) => (isObj(e) ? pick(e, ENDPOINT) : e)) : o.endpoints;
    return { ...base, addressType: o.addressType, ports: o.ports, endpoints } as KubernetesObject;
  }
  // Nodes: the labels (zone) are all we read.
  return base as KubernetesObject;
}
