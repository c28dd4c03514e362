// Read-only views of a suite section shared by the Markdown and SVG renderers, so both agree on
// which metric is primary, the order of modes and the swept x values.
import { measured } from './format.js';
import type { MetricSpec, SuiteRow, SuiteSection } from './suite-result.js';

/** The primary metric's spec; a primary missing from metrics still gets a usable label (its id). */
export function primaryMetric(section: SuiteSection): MetricSpec {
  return section.metrics.find((m) => m.id === section.primary) ?? { id: section.primary, label: section.primary, higherIsBetter: true };
}

/** Modes in the order the suite first reported them: the suite decides presentation order. */
export function modesOf(section: SuiteSection): string[] {
  return [...new Set(section.rows.map((r) => r.mode))];
}

/** The distinct swept x values, ascending. */
export function xValuesOf(section: SuiteSection): number[] {
  const xs = section.rows.map((r) => measured(r.x)).filter((x): x is number => x !== undefined);
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** Rows grouped by mode (in modesOf order), each group ascending in x. */
export function rowsByMode(section: SuiteSection): { mode: string; rows: SuiteRow[] }[] {
  return modesOf(section).map((mode) => ({
    mode,
    rows: section.rows.filter((r) => r.mode === mode).sort((a, b) => (measured(a.x) ?? 0) - (measured(b.x) ?? 0)),
  }));
}

export function isSweep(section: SuiteSection): boolean {
  return section.xLabel !== undefined;
}

/** The chart's file name: the section id, kept to a safe character set so it can't leave the chart directory. */
export function chartFileName(section: Pick<SuiteSection, 'id'>): string {
  return `${section.id.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^\.+/, '')}.svg`;
}
