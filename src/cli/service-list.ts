// `socklb service list`: what the pinned maps hold, read straight from the kernel, and the
// status the agent on the same bpffs published (agent-status.ts) for frontends not as desired.
import { openPinnedDatapath } from '../datapath/sock-datapath.js';
import { frontendOfKey } from '../datapath/frontends-map.js';
import { readSnapshot } from '../datapath/map-snapshot.js';
import { formatHostPort } from '../net/ip-address.js';
import { frontendId, frontendOfId, type Frontend } from '../model/desired-services.js';
import type { AgentStatus } from './agent-status.js';
import type { FailureReason } from '../datapath/retry-queue.js';

export type ListedStatus =
  /** As desired. */
  | { state: 'ok' }
  /** Not as desired: the agent retries it (unless unsupported) until it is. */
  | { state: 'failing'; owner: string; reason: FailureReason; attempts: number; lastError: string; retryInMs: number | null; removal: boolean }
  /** No agent runs on this bpffs: nobody says whether the maps are as desired. */
  | { state: 'unknown' };

export interface ListedService {
  /** Its service id in the maps; null for a frontend the agent has not been able to add. */
  id: number | null;
  frontend: Frontend;
  backends: { id: number; address: string; port: number }[];
  /** Slots found empty or pointing at a missing backend: drift the agent repairs on its next sync. */
  missing: number;
  status?: ListedStatus;
}

export function listServices(bpffs: string): ListedService[] {
  const dp = openPinnedDatapath(bpffs);
  try {
    const snap = readSnapshot(dp.maps);
    return snap.frontends
      .map((f) => {
        const backends: ListedService['backends'] = [];
        for (const id of f.active) {
          const b = id === undefined ? undefined : snap.backends.get(id);
          if (id !== undefined && b) backends.push({ id, address: b.address, port: b.port });
        }
        return {
          id: f.value.service_id,
          frontend: frontendOfKey(f.key),
          backends,
          missing: f.active.length - backends.length,
        };
      })
      .sort((a, b) => a.id - b.id);
  } finally {
    dp.close();
  }
}

/** The listing with each frontend's status from `agent` (undefined: no agent runs), and the
 * frontends the agent failed to add, which the maps do not hold. */
export function withStatus(services: readonly ListedService[], agent: AgentStatus | undefined, now = Date.now()): ListedService[] {
  if (!agent) return services.map((s) => ({ ...s, status: { state: 'unknown' } }));
  const failing = new Map(agent.failing.map((f) => [f.frontend, f]));
  const statusOf = (fid: string): ListedStatus => {
    const f = failing.get(fid);
    if (!f) return { state: 'ok' };
    const { frontend: _, retryAt, ...rest } = f;
    return { state: 'failing', ...rest, retryInMs: retryAt === null ? null : Math.max(0, retryAt - now) };
  };
  const listed = services.map((s) => ({ ...s, status: statusOf(frontendId(s.frontend)) }));
  const inMaps = new Set(services.map((s) => frontendId(s.frontend)));
  const notAdded = agent.failing.filter((f) => !f.removal && !inMaps.has(f.frontend)).sort((a, b) => (a.frontend < b.frontend ? -1 : 1));
  return [...listed, ...notAdded.map((f) => ({ id: null, frontend: frontendOfId(f.frontend), backends: [], missing: 0, status: statusOf(f.frontend) }))];
}

function statusText(s: ListedStatus | undefined): string {
  if (s?.state !== 'failing') return s?.state ?? '';
  const retry = s.retryInMs === null ? 'not retried until its input changes' : `retry in ${(s.retryInMs / 1000).toFixed(1)} s`;
  return `${s.reason}, ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}, ${retry}${s.removal ? ' (removal)' : ''}`;
}

/** VIP:port/PROTOCOL, and "(local)" for the node programs' externalTrafficPolicy Local twin. */
function frontendText(f: Frontend): string {
  return `${formatHostPort(f.address, f.port)}/${f.protocol}${f.scope ? ` (${f.scope})` : ''}`;
}

/** A table; a STATUS column, and each failing frontend's last error below the table, when some
 * frontend is not as desired. */
export function formatServiceTable(services: readonly ListedService[]): string {
  const failing = services.filter((s) => s.status?.state === 'failing');
  const rows = services.map((s) => [
    s.id === null ? '-' : String(s.id),
    frontendText(s.frontend),
    ...(failing.length > 0 ? [statusText(s.status)] : []),
    s.id === null
      ? '(not in the maps)'
      : s.backends.length === 0
        ? '(no endpoints: connections are refused)'
        : s.backends.map((b, i) => `${i + 1}) ${formatHostPort(b.address, b.port)}`).join('\n'),
  ]);
  const header = ['ID', 'FRONTEND', ...(failing.length > 0 ? ['STATUS'] : []), 'BACKENDS'];
  const widths = header.slice(0, -1).map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string => [...widths.map((w, c) => cells[c]!.padEnd(w)), cells.at(-1)!].join('   ');
  const out = [line(header)];
  for (const row of rows) {
    const [first, ...rest] = row.at(-1)!.split('\n');
    out.push(line([...row.slice(0, -1), first!]));
    for (const r of rest) out.push(line([...widths.map(() => ''), r]));
  }
  for (const s of failing) {
    if (s.status?.state !== 'failing') continue;
    out.push('', `${frontendText(s.frontend)} (${s.status.owner}): ${s.status.lastError}`);
  }
  return `${out.join('\n')}\n`;
}
