// What a load balancer's health check of this node must hear, per healthCheckNodePort: for a
// LoadBalancer service with externalTrafficPolicy Local, how many of its endpoints are on this
// node (kube-proxy's service health server answers 200 with the count, or 503 when it is 0, so
// the load balancer sends traffic only to nodes that keep it). Read from the services table's
// local-scope twins, which carry the port and this node's endpoints (external-frontends.ts),
// so it follows the same updates as the datapath. Pure: no I/O.
import { frontendId, type DesiredService } from './desired-services.js';
import type { TableUpdate } from './desired-tables.js';

export interface HealthCheck {
  /** namespace/name of the service. */
  service: string;
  /** Endpoints of the service on this node: distinct addresses over its ports, in the family
   * with more (a dual-stack pod counts once). */
  localEndpoints: number;
}

/** The service a row's owner names ("ns/name" or "ns/name:port"). */
const serviceOf = (owner: string): string => owner.split(':')[0]!;

export class HealthChecks {
  /** The twins that carry a health check port, by frontend id. */
  private readonly rows = new Map<string, DesiredService>();

  apply(update: TableUpdate<DesiredService>): void {
    if (update.kind === 'full') {
      this.rows.clear();
      for (const row of update.rows) this.keep(row);
      return;
    }
    for (const id of update.changes.removals) this.rows.delete(id);
    for (const row of update.changes.upserts) {
      this.rows.delete(frontendId(row.frontend));
      this.keep(row);
    }
  }

  private keep(row: DesiredService): void {
    if (row.frontend.scope === 'local' && row.healthCheckNodePort !== undefined) this.rows.set(frontendId(row.frontend), row);
  }

  /** Health check port → what it answers. Two services on one port (the API server allots each
   * its own) would share it: the first by name answers. */
  byPort(): Map<number, HealthCheck> {
    const endpoints = new Map<string, { port: number; v4: Set<string>; v6: Set<string> }>();
    for (const row of this.rows.values()) {
      const service = serviceOf(row.owner);
      let e = endpoints.get(service);
      if (!e) endpoints.set(service, (e = { port: row.healthCheckNodePort!, v4: new Set(), v6: new Set() }));
      // The same pod counts once, whatever port it serves.
      for (const b of row.backends) (b.address.includes(':') ? e.v6 : e.v4).add(b.address);
    }
    const out = new Map<number, HealthCheck>();
    for (const [service, e] of [...endpoints].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!out.has(e.port)) out.set(e.port, { service, localEndpoints: Math.max(e.v4.size, e.v6.size) });
    }
    return out;
  }
}
