// Socket mode's UDP work in the agent: after a sync that took backends from UDP frontends, one
// pass that destroys the connected sockets still sending to them; and how full the UDP reverse
// map is, with its evictions, as metrics.
import type { SockRevnat } from '../datapath/revnat-maps.js';
import { UDP_REVNAT_CAPACITY } from '../datapath/revnat-maps.js';
import type { UdpSockets } from '../datapath/udp-sockets.js';
import type { CounterName } from '../datapath/counters-map.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** One scrape reads the live count once, for both metrics that need it. */
const LIVE_COUNT_MAX_AGE_MS = 1000;
/** Namespaces named in a warning; the rest are counted. */
const NAMED_NAMESPACES = 5;

export interface UdpSocketWork {
  /** Destroys the connected UDP sockets of the pairs a sync removed. */
  afterSync(departed: readonly SockRevnat[]): void;
}

export function startUdpSocketWork(udp: UdpSockets, counters: () => Record<CounterName, bigint>, metrics: Metrics, log: Logger): UdpSocketWork {
  let live = { at: -Infinity, entries: 0 };
  const liveEntries = (): number => {
    if (Date.now() - live.at > LIVE_COUNT_MAX_AGE_MS) live = { at: Date.now(), entries: udp.revnatEntries() };
    return live.entries;
  };
  // Entries leave the LRU map only when their socket closes (counted) or by eviction, so what
  // was created and neither removed nor is still there was evicted. Kept monotonic: entries
  // created while the map is being counted can make one reading low.
  let evictions = 0;
  const readEvictions = (): number => {
    const c = counters();
    evictions = Math.max(evictions, Number(c.udp_revnat_created - c.udp_revnat_removed) - liveEntries());
    return evictions;
  };
  metrics.register({
    name: 'socklb_udp_revnat_entries',
    help: 'Entries in the UDP reverse map (slb_udp_revnat, LRU), counted at scrape time.',
    type: 'gauge',
    read: () => [{ value: liveEntries() }],
  });
  metrics.register({
    name: 'socklb_udp_revnat_capacity',
    help: 'max_entries of the UDP reverse map; near it, the LRU evicts the least recently used entries.',
    type: 'gauge',
    read: () => [{ value: UDP_REVNAT_CAPACITY }],
  });
  metrics.register({
    name: 'socklb_udp_revnat_evictions_total',
    help: 'UDP reverse entries the LRU evicted (created, minus removed with their socket, minus live).',
    type: 'counter',
    read: () => [{ value: readEvictions() }],
  });
  return {
    afterSync(departed) {
      if (departed.length === 0) return;
      const started = process.hrtime.bigint();
      const pass = udp.destroyDeparted(departed);
      if (!pass) return; // unavailable: said once, in 'datapath installed'
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (pass.destroyed > 0) log.info({ destroyed: pass.destroyed, pairs: pass.pairs, namespaces: pass.namespaces, durationMs }, 'destroyed connected UDP sockets whose backend left');
      if (pass.unreachable.length > 0 || pass.hiddenProcesses > 0) {
        log.warn(
          { namespaces: pass.unreachable.slice(0, NAMED_NAMESPACES), unreachable: pass.unreachable.length, hiddenProcesses: pass.hiddenProcesses },
          'connected UDP sockets in some network namespaces were not checked: run the agent in the host PID namespace with CAP_SYS_ADMIN and CAP_SYS_PTRACE',
        );
      }
    },
  };
}
