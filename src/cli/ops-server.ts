// Health, readiness and metrics over HTTP, for the kubelet's probes and Prometheus.
//   /healthz  200 while the process serves (the datapath is installed before it listens)
//   /readyz   200 once the first full sync is in the maps and while the datapath is installed;
//             503 otherwise, with the reason
//   /metrics  Prometheus text format
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpsHandlers {
  /** Why the agent is not ready, or undefined when it is. */
  notReady(): string | undefined;
  metrics(): string;
}

/** address is "host:port"; port 0 picks a free one. Resolves with the bound "host:port". */
export function startOpsServer(address: string, handlers: OpsHandlers): Promise<{ server: Server; address: string }> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(address.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.reject(new Error(`--metrics-address ${address} is not HOST:PORT (e.g. 0.0.0.0:9966, or 127.0.0.1:0 for any free port)`));
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const reason = handlers.notReady();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' }).end(reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(handlers.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('socklb serves /healthz, /readyz and /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${address} for health and metrics: ${err.message}`)));
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({ server, address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}` });
    });
  });
}
