// The periodic work of the tc programs on pod interfaces (conntrack mode, and socket mode with
// NetworkPolicy): the programs onto pod interfaces that appeared (and off those that no longer
// match), expired flows out of the flow table, and the table's size as a metric. Socket mode
// without NetworkPolicy has none of this.
import { TypedMap } from '../bpf/typed-map.js';
import { collectExpiredFlows } from '../datapath/ct-gc.js';
import { CT_CAPACITY, CT_MAP } from '../datapath/ct-map.js';
import { POLICY_CAPACITY, POLICY_CT_MAP } from '../datapath/policy-maps.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Clock } from './agent-clock.js';
import type { AgentOptions } from './agent.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

const FLOW_TABLE_CAPACITY: Readonly<Record<string, number>> = { [CT_MAP]: CT_CAPACITY, [POLICY_CT_MAP]: POLICY_CAPACITY.ct };

/** Conntrack mode's periodic work: programs onto new pod interfaces, expired flows out.
 * `installed` false (the datapath was uninstalled under the agent) stops both: the scan would
 * otherwise put the programs back on every pod interface, behind the operator's back. */
export function startConntrackWork(
  datapath: Pick<Datapath, 'sync' | 'ct'>,
  opts: Pick<AgentOptions, 'interfaceScanMs' | 'conntrackGcMs'>,
  installed: () => boolean,
  clock: Clock,
  metrics: Metrics,
  log: Logger,
): () => void {
  let liveFlows = 0;
  let liveEntries = 0;
  const scan = clock.setInterval(() => {
    if (!installed()) return;
    try {
      const changes = datapath.sync();
      if (changes.attached.length + changes.detached.length > 0) log.info(changes, 'pod interfaces changed');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'attaching to pod interfaces failed; retrying on the next scan');
    }
  }, opts.interfaceScanMs ?? 2000);
  const gc = clock.setInterval(() => {
    if (!installed()) return;
    try {
      const r = collectExpiredFlows(datapath.ct!);
      liveFlows = r.liveFlows;
      liveEntries = r.live;
      if (r.expired > 0) log.debug(r, 'conntrack garbage collected');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'conntrack garbage collection failed');
    }
  }, opts.conntrackGcMs ?? 10_000);
  // Conntrack mode's full table (slb_ct) or, in socket mode with NetworkPolicy, the
  // lightweight one (slb_pol_ct): the map label says which.
  const map = datapath.ct instanceof TypedMap ? datapath.ct.name : CT_MAP;
  metrics.register({
    name: 'socklb_conntrack_entries',
    help: 'Live entries in the tc flow table at the last garbage collection, and flows (conntrack mode: two entries per flow; slb_pol_ct: one).',
    type: 'gauge',
    read: () => [
      { labels: { map, kind: 'entries' }, value: liveEntries },
      { labels: { map, kind: 'flows' }, value: liveFlows },
    ],
  });
  metrics.register({
    name: 'socklb_conntrack_capacity',
    help: 'max_entries of the tc flow table (an LRU: near it, the least recently used flows are evicted).',
    type: 'gauge',
    read: () => [{ labels: { map }, value: FLOW_TABLE_CAPACITY[map] ?? 0 }],
  });
  return () => {
    scan.cancel();
    gc.cancel();
  };
}
