// The report's building blocks on their own: number formats, Markdown escaping, scales, colours.
import t from 'tap';
import { formatNumber, formatRatio, formatSpread, formatTick, numberStyle } from '../../src/bench/report/format.js';
import { inlineCode, mdLiteral, mdTable } from '../../src/bench/report/markdown-text.js';
import { modeColor } from '../../src/bench/report/mode-colors.js';
import { linearScale, logScale, niceStep, wantsLogScale } from '../../src/bench/report/scales.js';
import { primaryMetric, rowsByMode } from '../../src/bench/report/section-view.js';
import { escapeXml } from '../../src/bench/report/xml.js';
import { shortConnections } from './report-fixture.js';

t.test('the metric unit picks the number format', async (t) => {
  t.equal(numberStyle({ id: 'rate', label: 'conn/s' }), 'rate');
  t.equal(numberStyle({ id: 'updatesPerSec', label: 'updates' }), 'rate');
  t.equal(numberStyle({ id: 'p99Us', label: 'p99' }), 'duration');
  t.equal(numberStyle({ id: 'sync', label: 'sync (ms)' }), 'duration');
  t.equal(numberStyle({ id: 'runs', label: 'runs' }), 'plain', "'runs' ends in ns but is no unit");
  t.equal(numberStyle({ id: 'cpu', label: 'CPU %' }), 'plain');
  t.equal(formatNumber(1234567.4, 'rate'), '1,234,567');
  t.equal(formatNumber(18.0712, 'rate'), '18.1', 'small rates (Gbit/s) keep three significant digits');
  t.equal(formatNumber(1234.56, 'duration'), '1,234.6');
  t.equal(formatNumber(0.0342, 'duration'), '0.034', 'sub-unit durations keep two significant digits');
  t.equal(formatNumber(0, 'duration'), '0.0');
  t.equal(formatNumber(12, 'duration'), '12.0');
  t.equal(formatNumber(1234.5, 'plain'), '1,235');
  t.equal(formatNumber(0.012345, 'plain'), '0.0123');
  t.equal(formatNumber(Number.NaN, 'rate'), '—');
  t.equal(formatNumber(null, 'rate'), '—');
  t.equal(formatSpread({ median: 5, min: 4, max: 6 }, 'duration'), '5.0 (4.0–6.0)');
  t.equal(formatSpread({ median: 5 }, 'duration'), '5.0', 'no range without min and max');
  t.equal(formatSpread(undefined, 'rate'), '—');
  t.equal(formatRatio(0.98567), '0.986');
  t.equal(formatRatio(12.5), '12.500');
  t.equal(formatRatio(undefined), '—');
  t.same([0, 0.5, 250, 2000, 12500, 1_500_000].map(formatTick), ['0', '0.5', '250', '2K', '12.5K', '1.5M']);
});

t.test('Markdown escaping', async (t) => {
  t.equal(mdLiteral('a_b*c`d[e]|f#<g>&\\'), 'a\\_b\\*c\\`d\\[e\\]\\|f\\#&lt;g&gt;&amp;\\\\');
  t.equal(inlineCode('run'), '`run`');
  t.equal(inlineCode('echo `x`'), '`` echo `x` ``', 'a longer fence, padded when touching a backtick');
  t.equal(inlineCode('a``b'), '```a``b```');
  t.equal(
    mdTable(
      ['a', 'b'],
      ['left', 'right'],
      [
        ['x|y', 'z\\|w'],
        ['1\n2', '3'],
      ],
    ),
    '| a | b |\n| --- | ---: |\n| x\\|y | z\\|w |\n| 1 2 | 3 |',
  );
});

t.test('scales', async (t) => {
  t.same([niceStep(10, 5), niceStep(30000, 5), niceStep(7, 5), niceStep(0.3, 3)], [2, 10000, 2, 0.1], 'at most about `count` steps');
  const y = linearScale(0, 25488, [300, 0]);
  t.same(y.domain, [0, 30000]);
  t.same(y.ticks, [0, 10000, 20000, 30000]);
  t.equal(y.map(10000), 200);
  t.same(linearScale(0, 0, [0, 100]).domain, [0, 1], 'an all-zero axis still has a span');
  t.same(linearScale(0, 0.3, [0, 100], { nice: true, ticks: 3 }).ticks, [0, 0.1, 0.2, 0.3], 'no float noise in ticks');
  const x = linearScale(1, 8, [0, 70], { nice: false });
  t.same(x.domain, [1, 8]);
  t.same(x.ticks, [2, 4, 6, 8]);
  t.same(linearScale(3, 3, [0, 100], { nice: false }).domain, [2, 4], 'a single x is centred');
  const log = logScale(1, 10000, [0, 400]);
  t.same(log.ticks, [1, 10, 100, 1000, 10000]);
  t.equal(log.map(100), 200);
  t.same(logScale(50, 50, [0, 1]).ticks, [10, 100], 'at least one decade');
  t.same([wantsLogScale([1, 100]), wantsLogScale([1, 99]), wantsLogScale([0, 1000]), wantsLogScale([])], [true, false, false, false]);
});

t.test('colours per mode are fixed for known modes and stable for others', async (t) => {
  t.equal(modeColor('socket'), '#2563eb');
  t.equal(modeColor('direct'), '#1f2937');
  const known = ['socket', 'conntrack', 'iptables', 'nftables', 'ipvs', 'direct', 'direct-hooked'].map(modeColor);
  t.equal(new Set(known).size, 7, 'known modes are told apart');
  t.equal(modeColor('cilium'), modeColor('cilium'));
  t.match(modeColor('cilium'), /^#[0-9a-f]{6}$/);
  t.notOk(known.includes(modeColor('cilium')), 'others never take a known mode’s colour');
  t.not(modeColor('lb-a'), modeColor('lb-c'), 'similar names spread apart');
});

t.test('section views', async (t) => {
  t.same(primaryMetric({ ...shortConnections, primary: 'gone' }), { id: 'gone', label: 'gone', higherIsBetter: true }, 'a primary missing from metrics still labels');
  const rows = [
    { mode: 'a', x: 10, values: {} },
    { mode: 'a', values: {} },
    { mode: 'b', x: 1, values: {} },
  ];
  t.same(
    rowsByMode({ ...shortConnections, rows }).map((g) => [g.mode, g.rows.map((r) => r.x)]),
    [
      ['a', [undefined, 10]],
      ['b', [1]],
    ],
  );
  t.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
});
