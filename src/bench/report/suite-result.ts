// The shape of one `socklb bench` suite run: what the suite writes as JSON and what the
// Markdown table and SVG charts are rendered from. Every number in it was measured in the run;
// a mode the machine cannot run is listed under `unavailable` with the reason, never as a number.
import type { Spread } from '../stats.js';

export const SUITE_SCHEMA_VERSION = 1;

export interface SuiteResult {
  schema: typeof SUITE_SCHEMA_VERSION;
  /** "quick" or "full" (or a custom profile's name). */
  profile: string;
  /** ISO time the run started. */
  date: string;
  machine: { kernel: string; cpus: number; cpuModel: string; node: string };
  /** The command line that reproduces this run. */
  command: string;
  sections: SuiteSection[];
  /** What the run's own checks found wrong (failed transactions, traffic that missed the service's backends); empty when all was right. */
  problems?: string[];
  /** Sections asked for that have no result here: the report was written while the run went on
   * (after each section, so a run that ends early keeps what it measured) and the run ended
   * before them. Absent in a finished run's report. */
  notRun?: string[];
}

export interface MetricSpec {
  /** Key into SuiteRow.values, e.g. "rate", "p50Us". */
  id: string;
  /** Column heading, e.g. "conn/s", "p99 µs". */
  label: string;
  higherIsBetter: boolean;
}

export interface SuiteSection {
  /** Stable id, also the chart's file name: "short-connections", "service-scalability", ... */
  id: string;
  title: string;
  /** One sentence: workload, what is measured, repetitions. */
  description: string;
  /** Set when the section sweeps a parameter (e.g. "services", "backend pods"): rows then carry x. */
  xLabel?: string;
  metrics: MetricSpec[];
  /** The metric the chart shows (one of metrics[].id). */
  primary: string;
  rows: SuiteRow[];
  unavailable: { mode: string; reason: string }[];
  notes?: string[];
}

export interface MetricSample extends Spread {
  /** Every repetition's value, in run order. */
  samples: number[];
}

export interface SuiteRow {
  /** "socket", "conntrack", "iptables", "nftables", "ipvs", "direct", ... */
  mode: string;
  x?: number;
  values: Record<string, MetricSample>;
  /** Median of the primary metric over direct's at the same x (absent when direct was not run). */
  ratioToDirect?: number;
}
