// Number formatting for report cells and chart labels. The locale is fixed (en-US) so a report
// renders byte-identically on every machine, and one rule per kind of metric keeps a column's
// numbers comparable: rates as integers with thousands separators, durations with one decimal
// (two significant digits below 1).
import type { MetricSpec } from './suite-result.js';

/** What a cell shows when there is no measured value. */
export const MISSING = '—';

/**
 * The value if it is a measurement. An empty sample set yields NaN for the median and ±Infinity
 * for min/max, and a JSON round trip turns those into null; none of them may reach the page.
 */
export function measured(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export type NumberStyle = 'rate' | 'duration' | 'plain';

/** Classified from the metric's unit: "p99 µs" / "p50Us" are durations, "conn/s" / "rate" are rates. */
export function numberStyle(metric: Pick<MetricSpec, 'id' | 'label'>): NumberStyle {
  if (/(^|[\s(])(µs|us|ms|ns)\b/i.test(metric.label) || /(Us|Ms|Ns)$/.test(metric.id)) return 'duration';
  if (/\/s\b/.test(metric.label) || /rate|PerSec|[RPC]ps$/i.test(metric.id)) return 'rate';
  return 'plain';
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const twoSignificant = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 2 });
const threeSignificant = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
const threeDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 3, maximumFractionDigits: 3, useGrouping: false });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });

export function formatNumber(v: unknown, style: NumberStyle): string {
  const n = measured(v);
  if (n === undefined) return MISSING;
  // Small rates (Gbit/s) need their decimals; large ones (conn/s) are integers.
  if (style === 'rate') return Math.abs(n) < 100 ? threeSignificant.format(n) : integer.format(n);
  // Sub-unit durations (a map write in ms) keep two significant digits instead of reading 0.0.
  if (style === 'duration') return Math.abs(n) < 1 && n !== 0 ? twoSignificant.format(n) : oneDecimal.format(n);
  return Math.abs(n) >= 100 ? integer.format(n) : threeSignificant.format(n);
}

/** `median (min–max)`; just the median when the range is unknown, MISSING without a median. */
export function formatSpread(s: { median: unknown; min?: unknown; max?: unknown } | undefined, style: NumberStyle): string {
  const median = formatNumber(s?.median, style);
  if (median === MISSING) return MISSING;
  const min = measured(s?.min);
  const max = measured(s?.max);
  if (min === undefined || max === undefined) return median;
  return `${median} (${formatNumber(min, style)}–${formatNumber(max, style)})`;
}

/** A ratio to direct, e.g. 0.986: three decimals show the few-percent differences the benchmark is about. */
export function formatRatio(r: unknown): string {
  const n = measured(r);
  return n === undefined ? MISSING : threeDecimals.format(n);
}

/** Short tick labels for chart axes: 12.5K, 1M, 0.25. */
export function formatTick(v: number): string {
  return Math.abs(v) >= 1000 ? compact.format(v) : threeSignificant.format(v);
}
