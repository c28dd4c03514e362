// The vocabulary of desired state: one entry per Service VIP, port and protocol with the
// backends new connections may go to. The model produces these from Kubernetes objects, the
// sources deliver them and the datapath writes them; nothing here knows about either end.
import type { TableKind } from './desired-tables.js';

export type Protocol = 'TCP' | 'UDP';

export interface Frontend {
  address: string; // canonical text (see canonicalIp)
  port: number;
  protocol: Protocol;
  /**
   * 'local': the frontend traffic from outside the node takes under externalTrafficPolicy
   * Local (this node's endpoints only, the client's address kept). Only the node programs look
   * it up, beside the frontend of the same address and port without a scope, which every
   * client inside the cluster uses.
   */
  scope?: 'local';
}

export interface Backend {
  address: string; // canonical text, same family as the frontend
  port: number;
}

export interface DesiredService {
  frontend: Frontend;
  backends: Backend[];
  /** namespace/name and port name of the Service it came from, for errors and listings. */
  owner: string;
  /** sessionAffinity ClientIP: a client keeps its backend until idle this long; 0 or unset: none. */
  affinityTimeoutSeconds?: number;
  /**
   * 'external': the address is not the service's own (an externalIP, a load-balancer ingress IP,
   * or one of this node's addresses with a NodePort): only this port is balanced, connections to
   * its other ports must pass untouched. Unset: a cluster IP, owned by services, whose other
   * ports are refused.
   */
  reach?: 'external';
  /**
   * externalTrafficPolicy: Local, on the frontends it concerns (reach 'external'). For the
   * clients the socket hooks see it must not apply: kube-proxy sends pods' and the node's own
   * traffic to these addresses to all the service's endpoints anyway ("short-circuit"), which is
   * what backends holds. Traffic from outside the node takes the frontend's twin of scope
   * 'local' instead (this node's endpoints, the client's address kept: external-frontends.ts).
   */
  externalPolicyLocal?: true;
  /** On a local-scope twin: the service's healthCheckNodePort, where the agent answers a load
   * balancer's health check with this node's endpoint count (health-checks.ts). */
  healthCheckNodePort?: number;
}

// Keys are built with join(), which yields one flat string: a template literal yields a tree of
// concatenation nodes, ~3 times the bytes, and these keys are kept as map keys per endpoint.

/** "address|port|PROTOCOL" ("address|port|PROTOCOL|local" for a scoped one): the frontend's
 * key in every table and status (frontend ids). */
export function frontendId(f: Frontend): string {
  return f.scope ? [f.address, f.port, f.protocol, f.scope].join('|') : [f.address, f.port, f.protocol].join('|');
}

/** "address|port": a backend named by what it is. Not a backend id: that is the u32 the
 * datapath gives each backend in its maps. */
export function backendKey(b: Backend): string {
  return [b.address, b.port].join('|');
}

/** The services table: one row per frontend, named by its frontend id. */
export const SERVICES: TableKind<DesiredService> = { name: 'services', rowId: (s) => frontendId(s.frontend) };

/** The frontend a frontend id names (the inverse of frontendId). */
export function frontendOfId(id: string): Frontend {
  const [address, port, protocol, scope, ...rest] = id.split('|');
  if (address === undefined || !port || (protocol !== 'TCP' && protocol !== 'UDP') || (scope !== undefined && scope !== 'local') || rest.length > 0)
    throw new Error(`${JSON.stringify(id)} is not a frontend id (address|port|TCP or UDP, then |local for a scoped one)`);
  return scope ? { address, port: Number(port), protocol, scope } : { address, port: Number(port), protocol };
}
