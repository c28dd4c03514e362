// Conntrack mode's periodic work in the agent: the tc programs onto pod interfaces that
// appeared (and off those that no longer match), expired flows out of the table, and the
// table's size as a metric. Socket mode has none of this.
import { collectExpiredFlows } from '../datapath/ct-gc.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Clock } from './agent-clock.js';
import type { AgentOptions } from './agent.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

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
  metrics.register({
    name: 'socklb_conntrack_entries',
    help: 'Live entries in the tc conntrack table at the last garbage collection (two per flow), and flows.',
    type: 'gauge',
    read: () => [
      { labels: { kind: 'entries' }, value: liveEntries },
      { labels: { kind: 'flows' }, value: liveFlows },
    ],
  });
  return () => {
    scan.cancel();
    gc.cancel();
  };
}
