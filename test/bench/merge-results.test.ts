// Merging results (one per datapath on a cluster): rows of a mode pool their samples, ratios
// are recomputed against the pooled direct row, unavailable modes that another run measured
// disappear; and the CLI writes the merged report.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { SuiteResult } from '../../src/bench/report/suite-result.js';
import { mergeResults } from '../../src/bench/suite/merge-results.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { sample } from './report-fixture.js';

const run = (mode: string, rate: number[], direct: number[], unavailable: string[] = []): SuiteResult => ({
  schema: 1,
  profile: 'cluster',
  date: `2026-11-25T10:0${rate.length}:00.000Z`,
  machine: { kernel: '6.1', cpus: 8, cpuModel: 'x', node: 'v20' },
  command: `socklb bench cluster --mode-label ${mode}`,
  sections: [
    {
      id: 'short-connections',
      title: 'Short',
      description: 'd',
      metrics: [{ id: 'rate', label: 'conn/s', higherIsBetter: true }],
      primary: 'rate',
      rows: [
        { mode, values: { rate: sample(...rate) } },
        { mode: 'direct', values: { rate: sample(...direct) } },
      ],
      unavailable: unavailable.map((m) => ({ mode: m, reason: 'not here' })),
    },
  ],
  problems: [],
});

t.test('rows pool, ratios follow the pooled direct', async (t) => {
  const m = mergeResults([run('socket', [90, 110], [100, 100], ['conntrack']), run('conntrack', [80], [120]), run('socket', [100], [80])]);
  const rows = m.sections[0]!.rows;
  t.same(
    rows.map((r) => r.mode),
    ['socket', 'direct', 'conntrack'],
  );
  t.same(rows[0]!.values.rate!.samples, [90, 110, 100]);
  t.same(rows[1]!.values.rate!.samples, [100, 100, 120, 80]);
  t.equal(rows[0]!.ratioToDirect, 1, 'median 100 over pooled direct median 100');
  t.equal(rows[2]!.ratioToDirect, 0.8);
  t.same(m.sections[0]!.unavailable, [], 'conntrack was measured by another run');
  t.equal(m.profile, 'cluster');
  t.equal(m.date, '2026-11-25T10:01:00.000Z', 'the earliest run');
});

t.test("a section one run did not reach is not run in the merge only while no other run has it", async (t) => {
  const ended = { ...run('socket', [1], [1]), notRun: ['short-connections', 'policy'] };
  t.same(mergeResults([ended, run('conntrack', [1], [1])]).notRun, ['policy'], 'short-connections was measured by both');
  t.notOk('notRun' in mergeResults([run('socket', [1], [1])]), 'finished runs merge into a finished report');
});

t.test('nothing to merge, or a foreign schema, is refused with a reason', async (t) => {
  t.throws(() => mergeResults([]), /at least one result.json/);
  t.throws(() => mergeResults([{ ...run('socket', [1], [1]), schema: 2 as 1 }]), /schema 2/);
});

t.test('socklb bench merge writes one report from several files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-merge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'socket.json'), JSON.stringify(run('socket', [100], [100])));
  writeFileSync(join(dir, 'conntrack.json'), JSON.stringify(run('conntrack', [80], [100])));
  const out = execFileSync(process.execPath, [CLI_PATH, 'bench', 'merge', join(dir, 'socket.json'), join(dir, 'conntrack.json'), '--out', join(dir, 'report')], {
    encoding: 'utf8',
  });
  t.match(out, /\| conntrack \| 80 \(80–80\) \| 0\.800 \|/);
  t.ok(existsSync(join(dir, 'report', 'charts', 'short-connections.svg')));
  t.match(readFileSync(join(dir, 'report', 'report.md'), 'utf8'), /socklb bench cluster --mode-label socket ; socklb bench cluster --mode-label conntrack/);
});
