// `socklb service list`: what the pinned maps hold, read straight from the kernel.
import { openPinnedDatapath } from '../datapath/sock-datapath.js';
import { frontendOfKey } from '../datapath/frontends-map.js';
import { readSnapshot } from '../datapath/map-snapshot.js';
import { formatHostPort } from '../net/ip-address.js';
import type { Frontend } from '../model/desired-services.js';

export interface ListedService {
  id: number;
  frontend: Frontend;
  backends: { id: number; address: string; port: number }[];
  /** Slots found empty or pointing at a missing backend: drift the agent repairs on its next sync. */
  missing: number;
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

export function formatServiceTable(services: readonly ListedService[]): string {
  const rows = services.map((s) => [
    String(s.id),
    `${formatHostPort(s.frontend.address, s.frontend.port)}/${s.frontend.protocol}`,
    s.backends.length === 0 ? '(no endpoints: connections are refused)' : s.backends.map((b, i) => `${i + 1}) ${formatHostPort(b.address, b.port)}`).join('\n'),
  ]);
  const header = ['ID', 'FRONTEND', 'BACKENDS'];
  const w0 = Math.max(header[0]!.length, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(header[1]!.length, ...rows.map((r) => r[1]!.length));
  const line = (a: string, b: string, c: string): string => `${a.padEnd(w0)}   ${b.padEnd(w1)}   ${c}`;
  const out = [line(header[0]!, header[1]!, header[2]!)];
  for (const [id, fe, be] of rows) {
    const [first, ...rest] = be!.split('\n');
    out.push(line(id!, fe!, first!));
    for (const r of rest) out.push(line('', '', r));
  }
  return `${out.join('\n')}\n`;
}
