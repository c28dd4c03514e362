// A suite result shaped like a real run on a 2-core VM: connect/close rates for four modes with
// ipvs unavailable, and a service-count sweep from 1 to 10,000 services.
import { spread } from '../../src/bench/stats.js';
import { SUITE_SCHEMA_VERSION, type MetricSample, type SuiteResult, type SuiteRow, type SuiteSection } from '../../src/bench/report/suite-result.js';

export const sample = (...samples: number[]): MetricSample => ({ ...spread(samples), samples });

const conn = (mode: string, rate: number[], p50: number[], p99: number[], ratioToDirect?: number): SuiteRow => ({
  mode,
  values: { rate: sample(...rate), p50Us: sample(...p50), p99Us: sample(...p99) },
  ...(ratioToDirect === undefined ? {} : { ratioToDirect }),
});

export const shortConnections: SuiteSection = {
  id: 'short-connections',
  title: 'Short connections',
  description: 'One TCP connect, 1-byte request/response and close per iteration against a ClusterIP with 3 backends; 5 repetitions of 10 s.',
  metrics: [
    { id: 'rate', label: 'conn/s', higherIsBetter: true },
    { id: 'p50Us', label: 'p50 µs', higherIsBetter: false },
    { id: 'p99Us', label: 'p99 µs', higherIsBetter: false },
  ],
  primary: 'rate',
  rows: [
    conn('socket', [24810, 25102, 24655, 25390, 24977], [38.2, 37.9, 38.6, 38.1, 38.4], [92.5, 95.1, 90.3, 97.8, 93.6], 0.986),
    conn('conntrack', [19420, 19877, 19630, 19512, 20011], [49.1, 48.7, 49.8, 49.3, 48.9], [130.2, 128.4, 135.9, 131.1, 129.7], 0.78),
    conn('iptables', [18105, 18330, 17980, 18422, 18260], [52.6, 52.1, 53.0, 52.4, 52.8], [141.3, 139.8, 145.2, 140.6, 142.1], 0.726),
    conn('direct', [25210, 25488, 24930, 25160, 25335], [37.6, 37.4, 38.0, 37.7, 37.5], [90.1, 91.4, 89.6, 92.2, 90.8], 1),
  ],
  unavailable: [{ mode: 'ipvs', reason: 'ip_vs module not loadable in this kernel (modprobe: FATAL: Module ip_vs not found)' }],
  notes: ['Client and server pinned to different CPUs; the machine had no other load.'],
};

const sweepRow = (mode: string, x: number, rate: number, ratioToDirect: number): SuiteRow => ({
  mode,
  x,
  values: { rate: sample(rate * 0.98, rate, rate * 1.01) },
  ratioToDirect,
});

const XS = [1, 100, 1000, 5000, 10000];
const iptablesRates = [18200, 17650, 12900, 6100, 3400];

export const serviceScalability: SuiteSection = {
  id: 'service-scalability',
  title: 'Service scalability',
  description: 'Connect/close rate to one service while N services are installed; 3 repetitions of 5 s per point.',
  xLabel: 'services',
  metrics: [{ id: 'rate', label: 'conn/s', higherIsBetter: true }],
  primary: 'rate',
  rows: [
    ...XS.map((x) => sweepRow('socket', x, 24900 - x * 0.01, (24900 - x * 0.01) / 25200)),
    ...XS.map((x, i) => sweepRow('iptables', x, iptablesRates[i]!, iptablesRates[i]! / 25200)),
    ...XS.map((x) => sweepRow('direct', x, 25200, 1)),
  ],
  unavailable: [{ mode: 'ipvs', reason: 'ip_vs module not loadable' }],
};

export const fixture: SuiteResult = {
  schema: SUITE_SCHEMA_VERSION,
  profile: 'quick',
  date: '2026-11-25T09:14:03.000Z',
  machine: { kernel: '6.8.0-49-generic', cpus: 2, cpuModel: 'Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz', node: 'v20.19.4' },
  command: 'sudo socklb bench --profile quick --out bench-results/2026-11-25',
  sections: [shortConnections, serviceScalability],
};
