// The periodic work of the tc components (PodTc in conntrack mode or with NetworkPolicy, NodeTc
// with --node-devices): the programs onto interfaces that appeared (and off those that no longer
// match), expired flows out of each flow table, and each table's size as a metric. Socket mode
// with neither has none of this.
import { COMPONENT_TARGETS } from '../datapath/datapath-component.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Clock } from './agent-clock.js';
import type { AgentOptions } from './agent.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Interfaces scanned, expired flows out. `installed` false (the datapath was uninstalled under
 * the agent) stops both: the scan would otherwise put the programs back on every interface,
 * behind the operator's back. */
export function startConntrackWork(
  datapath: Pick<Datapath, 'components' | 'flowTables'>,
  opts: Pick<AgentOptions, 'interfaceScanMs' | 'conntrackGcMs'>,
  installed: () => boolean,
  clock: Clock,
  metrics: Metrics,
  log: Logger,
): () => void {
  const live = new Map(datapath.flowTables.map((t) => [t.map, { entries: 0, flows: 0 }]));
  const scan = clock.setInterval(() => {
    if (!installed()) return;
    for (const c of datapath.components) {
      const targets = COMPONENT_TARGETS[c.name];
      try {
        const changes = c.sync();
        if (changes.attached.length + changes.detached.length > 0) log.info(changes, `${targets} changed`);
      } catch (err) {
        log.error({ err: (err as Error).message }, `attaching to ${targets} failed; retrying on the next scan`);
      }
    }
  }, opts.interfaceScanMs ?? 2000);
  const gc = clock.setInterval(() => {
    if (!installed()) return;
    for (const table of datapath.flowTables) {
      try {
        const r = table.collect();
        live.set(table.map, { entries: r.live, flows: r.liveFlows });
        if (r.expired > 0) log.debug({ map: table.map, ...r }, 'conntrack garbage collected');
      } catch (err) {
        log.error({ map: table.map, err: (err as Error).message }, 'conntrack garbage collection failed');
      }
    }
  }, opts.conntrackGcMs ?? 10_000);
  // Conntrack mode's full table (slb_ct), socket mode's lightweight one with NetworkPolicy
  // (slb_pol_ct), the north-south flows' (slb_node_ct): the map label says which.
  metrics.register({
    name: 'socklb_conntrack_entries',
    help: 'Live entries in each tc flow table at the last garbage collection, and flows (slb_ct and slb_node_ct: two entries per flow; slb_pol_ct: one).',
    type: 'gauge',
    read: () =>
      [...live].flatMap(([map, n]) => [
        { labels: { map, kind: 'entries' }, value: n.entries },
        { labels: { map, kind: 'flows' }, value: n.flows },
      ]),
  });
  metrics.register({
    name: 'socklb_conntrack_capacity',
    help: 'max_entries of each tc flow table (an LRU: near it, the least recently used flows are evicted).',
    type: 'gauge',
    read: () => datapath.flowTables.map((t) => ({ labels: { map: t.map }, value: t.capacity })),
  });
  return () => {
    scan.cancel();
    gc.cancel();
  };
}
