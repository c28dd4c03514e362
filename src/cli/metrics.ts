// Prometheus metrics in the text exposition format (version 0.0.4), without a client library:
// a histogram and a few counters kept here, gauges read at scrape time from their owners.
import { FAILURE_REASONS, type FailureReason } from '../datapath/retry-queue.js';

const SYNC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface Sample {
  labels?: Record<string, string>;
  value: number | bigint;
}

export interface GaugeSource {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  read(): Sample[];
}

const labelText = (labels: Record<string, string> | undefined): string =>
  labels && Object.keys(labels).length > 0
    ? `{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
        .join(',')}}`
    : '';

export class Metrics {
  private readonly bucketCounts = SYNC_BUCKETS.map(() => 0);
  private syncCount = 0;
  private syncSum = 0;
  /** By reason, every reason from the start: a series that appears only on its first error
   * hides the rate of that first one from rate(). */
  private readonly serviceErrors = new Map<FailureReason, number>(FAILURE_REASONS.map((r) => [r, 0]));
  private readonly sources: GaugeSource[] = [];

  observeSync(seconds: number, errors: readonly { reason: FailureReason }[]): void {
    this.syncCount++;
    this.syncSum += seconds;
    SYNC_BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.bucketCounts[i]!++;
    });
    for (const e of errors) this.serviceErrors.set(e.reason, (this.serviceErrors.get(e.reason) ?? 0) + 1);
  }

  register(source: GaugeSource): void {
    this.sources.push(source);
  }

  render(): string {
    const lines: string[] = [];
    const family = (name: string, help: string, type: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family('socklb_sync_duration_seconds', 'Time to apply one update of the desired state to the BPF maps.', 'histogram');
    SYNC_BUCKETS.forEach((le, i) => lines.push(`socklb_sync_duration_seconds_bucket{le="${le}"} ${this.bucketCounts[i]}`));
    lines.push(`socklb_sync_duration_seconds_bucket{le="+Inf"} ${this.syncCount}`);
    lines.push(`socklb_sync_duration_seconds_sum ${this.syncSum}`, `socklb_sync_duration_seconds_count ${this.syncCount}`);
    family('socklb_sync_errors_total', 'Objects that could not be written to the maps, summed over syncs, by reason (as socklb_frontends_failing).', 'counter');
    for (const [reason, n] of this.serviceErrors) lines.push(`socklb_sync_errors_total${labelText({ reason })} ${n}`);
    for (const s of this.sources) {
      family(s.name, s.help, s.type);
      for (const sample of s.read()) lines.push(`${s.name}${labelText(sample.labels)} ${sample.value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
