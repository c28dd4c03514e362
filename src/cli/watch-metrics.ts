// The watches' health as a metric family.
import type { GaugeSource } from './metrics.js';
import type { ClusterSource } from '../k8s/cluster-source.js';

export function watchRestartsMetric(source: ClusterSource): GaugeSource {
  return {
    name: 'socklb_watch_restarts_total',
    help: 'Times a watch (or its list) failed and was started again, by resource.',
    type: 'counter',
    read: () => source.watchStatus().map((s) => ({ labels: { resource: s.resource }, value: s.restarts })),
  };
}
