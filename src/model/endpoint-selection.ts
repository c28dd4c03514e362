// Which endpoints of a service port new connections may use, with kube-proxy's semantics:
// ready endpoints; when none is ready, endpoints that are serving and terminating, so a
// rolling update that briefly has no ready pod does not drop traffic.
import type { Backend } from '../datapath/desired-state.js';

export interface EndpointCandidate extends Backend {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** Condition values as the API defines them: ready and serving default to true when unset, terminating to false. */
export function endpointConditions(c: { ready?: unknown; serving?: unknown; terminating?: unknown } | undefined): {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
} {
  return {
    ready: c?.ready === undefined || c.ready === null || c.ready === true,
    serving: c?.serving === undefined || c.serving === null || c.serving === true,
    terminating: c?.terminating === true,
  };
}

function compareBackends(a: Backend, b: Backend): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}

/** Deduplicated (the same address and port may appear in several slices) and sorted. */
export function selectEndpoints(candidates: readonly EndpointCandidate[]): Backend[] {
  const seen = new Map<string, EndpointCandidate>();
  for (const c of candidates) {
    const id = `${c.address}|${c.port}`;
    const prev = seen.get(id);
    // During a slice migration one endpoint can be listed twice; the readier listing wins.
    if (!prev || (c.ready && !prev.ready)) seen.set(id, c);
  }
  const all = [...seen.values()];
  const ready = all.filter((c) => c.ready);
  const chosen = ready.length > 0 ? ready : all.filter((c) => c.serving && c.terminating);
  return chosen.map(({ address, port }) => ({ address, port })).sort(compareBackends);
}
