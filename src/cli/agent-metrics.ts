// The agent's own metric families (what the maps hold, what the programs counted, the
// process's memory), apart from the families of its parts (retry-timer.ts, datapath-watch.ts,
// udp-socket-work.ts, conntrack-work.ts), which register themselves.
import type { CounterName } from '../datapath/counters-map.js';
import { MAP_CAPACITY, WRITTEN_MAPS } from '../datapath/datapath-maps.js';
import type { Reconciler } from '../datapath/reconciler.js';
import type { Metrics } from './metrics.js';

export function registerAgentMetrics(metrics: Metrics, reconciler: Reconciler, counters: () => Record<CounterName, bigint>): void {
  metrics.register({
    name: 'socklb_programmed',
    help: 'Frontends (VIP, port, protocol) and backends in the maps.',
    type: 'gauge',
    read: () => [
      { labels: { kind: 'frontends' }, value: reconciler.size.frontends },
      { labels: { kind: 'backends' }, value: reconciler.size.backends },
    ],
  });
  metrics.register({
    name: 'socklb_map_entries',
    help: 'Entries in each map the agent writes, next to socklb_map_capacity.',
    type: 'gauge',
    read: () => {
      const entries = reconciler.mapEntries();
      return WRITTEN_MAPS.map((map) => ({ labels: { map }, value: entries[map] }));
    },
  });
  metrics.register({
    name: 'socklb_map_capacity',
    help: 'max_entries of each map the agent writes.',
    type: 'gauge',
    read: () => WRITTEN_MAPS.map((map) => ({ labels: { map }, value: MAP_CAPACITY[map] })),
  });
  metrics.register({
    name: 'socklb_datapath_events_total',
    help: 'Datapath events counted by the BPF programs.',
    type: 'counter',
    read: () => Object.entries(counters()).map(([event, value]) => ({ labels: { event }, value })),
  });
  metrics.register({
    name: 'socklb_process_memory_bytes',
    help: 'Memory of the agent process: resident set and V8 heap.',
    type: 'gauge',
    read: () => {
      const m = process.memoryUsage();
      return [
        { labels: { kind: 'rss' }, value: m.rss },
        { labels: { kind: 'heap_used' }, value: m.heapUsed },
        { labels: { kind: 'heap_total' }, value: m.heapTotal },
        { labels: { kind: 'external' }, value: m.external + m.arrayBuffers },
      ];
    },
  });
}
