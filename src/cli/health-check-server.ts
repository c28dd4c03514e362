// The agent's answer to load balancers' health checks of externalTrafficPolicy Local services
// (their healthCheckNodePort), as kube-proxy's service health server gives it: on each port an
// HTTP server in the agent's network namespace (the node's), answering any path with 200 and
// the count of the service's endpoints on this node, or 503 when there is none or the datapath
// is not installed, with the same JSON body and X-Load-Balancing-Endpoint-Weight header. Servers
// open and close as services come and go (model/health-checks.ts says what each port answers).
import { createServer, type Server } from 'node:http';
import type { DesiredService } from '../model/desired-services.js';
import type { TableUpdate } from '../model/desired-tables.js';
import { HealthChecks, type HealthCheck } from '../model/health-checks.js';
import type { Logger } from './logger.js';

export interface HealthCheckServers {
  /** The services table of an update the agent applied. */
  apply(update: TableUpdate<DesiredService>): void;
  /** The ports served now. */
  ports(): number[];
  close(): Promise<void>;
}

/** healthy: whether the datapath serves (kube-proxy's serviceProxyHealthy). */
export function startHealthCheckServers(healthy: () => boolean, log: Logger): HealthCheckServers {
  const table = new HealthChecks();
  const servers = new Map<number, { server: Server; check: HealthCheck }>();
  const answer = (port: number, res: import('node:http').ServerResponse): void => {
    const check = servers.get(port)?.check;
    const [namespace, name] = (check?.service ?? '/').split('/');
    const count = check?.localEndpoints ?? 0;
    const proxyHealthy = healthy();
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Load-Balancing-Endpoint-Weight', String(count));
    res.statusCode = count > 0 && proxyHealthy ? 200 : 503;
    res.end(JSON.stringify({ service: { namespace, name }, localEndpoints: count, serviceProxyHealthy: proxyHealthy }, null, 2));
  };
  const open = (port: number, check: HealthCheck): void => {
    const server = createServer((_req, res) => answer(port, res));
    server.on('error', (err) => {
      log.error(
        { port, service: check.service, err: err.message },
        'health check port cannot be served (taken by another process?); the load balancer will see this node as down for the service',
      );
      servers.delete(port);
    });
    // Every address of the node, both families, as kube-proxy's (--healthz-bind-address aside).
    server.listen({ port, host: '::' });
    servers.set(port, { server, check });
  };
  return {
    apply(update) {
      table.apply(update);
      const wanted = table.byPort();
      for (const [port, s] of servers) {
        if (wanted.has(port)) continue;
        s.server.close();
        servers.delete(port);
      }
      for (const [port, check] of wanted) {
        const s = servers.get(port);
        if (s) s.check = check;
        else open(port, check);
      }
    },
    ports: () => [...servers.keys()].sort((a, b) => a - b),
    close: async () => {
      await Promise.all([...servers.values()].map((s) => new Promise<void>((resolve) => s.server.close(() => resolve()))));
      servers.clear();
    },
  };
}
