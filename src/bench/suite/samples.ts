// Turns repeated runs into the suite's rows: per mode (and sweep point) a median, min, max and
// every sample of each metric, and the primary metric's ratio to direct at the same point.
import { spread } from '../stats.js';
import type { MetricSample, SuiteRow } from '../report/suite-result.js';

export function sample(values: readonly number[]): MetricSample {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [...values] };
  return { ...spread(finite), samples: [...values] };
}

/** One row per mode from its runs; `pick` reads each metric off a run. */
export function rowsFor<R>(runs: ReadonlyMap<string, readonly R[]>, pick: Record<string, (r: R) => number>, x?: number): SuiteRow[] {
  return [...runs].map(([mode, rs]) => ({
    mode,
    ...(x === undefined ? {} : { x }),
    values: Object.fromEntries(Object.entries(pick).map(([metric, read]) => [metric, sample(rs.map(read))])),
  }));
}

/** Sets ratioToDirect on rows that share an x with a direct row. */
export function withRatios(rows: SuiteRow[], primary: string): SuiteRow[] {
  for (const row of rows) {
    const direct = rows.find((r) => r.mode === 'direct' && r.x === row.x);
    const base = direct?.values[primary]?.median;
    const value = row.values[primary]?.median;
    if (base !== undefined && value !== undefined && Number.isFinite(base) && base !== 0) row.ratioToDirect = value / base;
  }
  return rows;
}
