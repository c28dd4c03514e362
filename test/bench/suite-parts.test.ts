// The suite's pure parts: run checks, rows and ratios, profiles.
import t from 'tap';
import type { ClientRun } from '../../src/bench/suite/bench-topology.js';
import { checkRun } from '../../src/bench/suite/run-checks.js';
import { busyCpuMicros } from '../../src/bench/suite/cpu-accounting.js';
import { PROFILES } from '../../src/bench/suite/profiles.js';
import { rowsFor, sample, withRatios } from '../../src/bench/suite/samples.js';

const runOf = (over: Partial<ClientRun>): ClientRun => ({
  mode: 'socket',
  transactions: 100,
  errors: 0,
  rate: 1000,
  p50Us: 50,
  p99Us: 90,
  cpuUsPerTransaction: 100,
  kernelConntrack: 0,
  socklbFlows: 0,
  replies: { 'be-0': 50, 'be-1': 50 },
  strayReplies: 0,
  ...over,
});

t.test('a clean run passes', async (t) => {
  t.same(checkRun(runOf({}), 'x', ['be-0', 'be-1'], true), []);
});

t.test('every kind of wrong run is reported', async (t) => {
  t.match(checkRun(runOf({ transactions: 0, replies: {} }), 'x', [], false), [/completed no transaction/]);
  t.match(checkRun(runOf({ errors: 3 }), 'x', ['be-0', 'be-1'], true), [/3 failed transactions/]);
  t.match(checkRun(runOf({ strayReplies: 2 }), 'x', ['be-0', 'be-1'], true), [/2 answers from servers that are not/]);
  t.match(checkRun(runOf({ replies: { 'be-0': 100 } }), 'x', ['be-0', 'be-1'], true), [/never reached be-1/]);
  t.same(checkRun(runOf({ replies: { 'be-0': 100 } }), 'x', ['be-0', 'be-1'], false), [], 'one connection may stay on one backend');
  t.match(checkRun(runOf({ mode: 'conntrack', kernelConntrack: 7 }), 'x', ['be-0', 'be-1'], true), [/conntrack left 7 kernel conntrack entries/]);
  t.same(checkRun(runOf({ mode: 'iptables', kernelConntrack: 7 }), 'x', ['be-0', 'be-1'], true), [], 'iptables is expected to track');
  t.same(checkRun(runOf({ mode: 'iptables+calico' as ClientRun['mode'], kernelConntrack: 7 }), 'x', ['be-0', 'be-1'], true), [], 'so is a variant of it (the policy section)');
  t.match(checkRun(runOf({ mode: 'socket+policy' as ClientRun['mode'], kernelConntrack: 7 }), 'x', ['be-0', 'be-1'], true), [/left 7 kernel conntrack/], 'socket mode with policy keeps none');
});

t.test('samples: median, spread, every value; non-finite values are kept but not counted', async (t) => {
  t.same(sample([3, 1, 2]), { median: 2, min: 1, max: 3, samples: [3, 1, 2] });
  const s = sample([Number.NaN, 4]);
  t.equal(s.median, 4);
  t.equal(s.samples.length, 2);
  t.ok(Number.isNaN(sample([Number.NaN]).median));
});

t.test('rows and ratios to direct at the same x', async (t) => {
  const runs = new Map([
    ['socket', [{ r: 90 }, { r: 110 }]],
    ['direct', [{ r: 200 }]],
  ]);
  const rows = withRatios(
    [...rowsFor(runs, { rate: (x: { r: number }) => x.r }, 1), ...rowsFor(new Map([['socket', [{ r: 50 }]]]), { rate: (x: { r: number }) => x.r }, 2)],
    'rate',
  );
  t.equal(rows[0]!.ratioToDirect, 0.5);
  t.equal(rows[1]!.ratioToDirect, 1);
  t.equal(rows[2]!.ratioToDirect, undefined, 'no direct at x=2');
});

t.test('profiles: quick is a subset-sized full', async (t) => {
  t.ok(PROFILES.quick.durationMs < PROFILES.full.durationMs);
  t.same(PROFILES.full.servicePoints, [1, 100, 1000, 5000, 10000]);
  t.ok(Math.max(...PROFILES.full.podPoints) >= 150);
  t.equal(PROFILES.full.stateConnections, 10000);
});

t.test('busy CPU from /proc/stat: user, nice, system, irq and softirq, not idle, iowait or steal', async (t) => {
  const ticks = busyCpuMicros('cpu  100 1 50 9000 7 3 6 40 0 0\ncpu0 1 2 3\n');
  const perTick = busyCpuMicros('cpu  1 0 0 0 0 0 0 0 0 0\n');
  t.equal(ticks, 160 * perTick);
  t.throws(() => busyCpuMicros('intr 1 2 3\n'), /no "cpu " line/);
});
