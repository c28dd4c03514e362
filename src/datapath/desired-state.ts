// What the reconciler is asked to make true: one entry per Service VIP, port and protocol with
// the backends new connections may go to. The model layer produces these; nothing here knows
// about Kubernetes objects.
export type Protocol = 'TCP' | 'UDP';

export interface Frontend {
  address: string; // canonical text (see canonicalIp)
  port: number;
  protocol: Protocol;
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
}

// Ids are built with join(), which yields one flat string: a template literal yields a tree of
// concatenation nodes, ~3 times the bytes, and these ids are kept as map keys per endpoint.
export function frontendId(f: Frontend): string {
  return [f.address, f.port, f.protocol].join('|');
}

export function backendId(b: Backend): string {
  return [b.address, b.port].join('|');
}
