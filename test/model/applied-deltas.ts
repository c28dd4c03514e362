// What a consumer applying every flush's delta holds: the property tests compare it with a
// fresh computation over the final objects.
import { frontendId, type DesiredService } from '../../src/model/desired-services.js';
import type { ServiceIndex } from '../../src/model/service-index.js';

export function appliedDeltas(index: ServiceIndex): { applied: Map<string, DesiredService>; flush: () => void } {
  const applied = new Map<string, DesiredService>();
  const flush = (): void => {
    const d = index.flush();
    for (const fid of d.removals) applied.delete(fid);
    for (const s of d.upserts) applied.set(frontendId(s.frontend), s);
  };
  return { applied, flush };
}
