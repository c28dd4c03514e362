// The benchmark report rendered from a realistic suite result: Markdown tables with formatted
// spreads and unavailable modes, SVG charts that are well-formed and drawn to scale, and the
// report directory written to disk.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { renderMarkdown } from '../../src/bench/report/markdown-report.js';
import type { SuiteResult, SuiteSection } from '../../src/bench/report/suite-result.js';
import { renderChart } from '../../src/bench/report/svg-chart.js';
import { writeReport } from '../../src/bench/report/write-report.js';
import { xmlProblems } from '../helpers/xml-well-formed.js';
import { fixture, sample, serviceScalability, shortConnections } from './report-fixture.js';

const lines = (md: string) => md.split('\n');
const withSections = (...sections: SuiteSection[]): SuiteResult => ({ ...fixture, sections });

/** Every element `<name ...>` of the SVG as a map of its attributes. */
function elements(svg: string, name: string): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<${name}\\s([^>]*?)/?>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

t.test('the header says what was run, where, and how to run it again', async (t) => {
  const md = renderMarkdown(fixture);
  t.match(md, /^# socklb benchmark report: quick profile\n/);
  t.match(md, '- **Date:** 2026-11-25T09:14:03.000Z');
  t.match(md, '- **Machine:** kernel 6.8.0-49-generic, 2 CPUs (Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz), Node v20.19.4');
  t.match(md, '- **Reproduce:** `sudo socklb bench --profile quick --out bench-results/2026-11-25`');
});

t.test('a report written while the run goes on names the sections it has not run yet; a finished one does not', async (t) => {
  t.match(renderMarkdown({ ...fixture, notRun: ['policy', 'north-south'] }), /- \*\*Not run:\*\* policy, north-south \(the run ended before them/);
  t.notMatch(renderMarkdown(fixture), /Not run/);
});

t.test('a section table: one row per mode, median (min–max) per metric, ratio to direct', async (t) => {
  const md = lines(renderMarkdown(withSections(shortConnections)));
  const at = md.indexOf('| Mode | conn/s | p50 µs | p99 µs | vs direct |');
  t.ok(at > 0, 'the header row names every metric');
  t.same(md.slice(at + 1, at + 6), [
    '| --- | ---: | ---: | ---: | ---: |',
    '| socket | 24,977 (24,655–25,390) | 38.2 (37.9–38.6) | 93.6 (90.3–97.8) | 0.986 |',
    '| conntrack | 19,630 (19,420–20,011) | 49.1 (48.7–49.8) | 130.2 (128.4–135.9) | 0.780 |',
    '| iptables | 18,260 (17,980–18,422) | 52.6 (52.1–53.0) | 141.3 (139.8–145.2) | 0.726 |',
    '| direct | 25,210 (24,930–25,488) | 37.6 (37.4–38.0) | 90.8 (89.6–92.2) | 1.000 |',
  ]);
  t.equal(md[at + 6], '', 'the table ends after the measured modes');
  t.ok(md.includes('## Short connections'));
  t.ok(md.includes(shortConnections.description));
  t.ok(md.includes('- Client and server pinned to different CPUs; the machine had no other load.'), 'notes are listed');
});

t.test('an unavailable mode gets its reason and never a number', async (t) => {
  const md = renderMarkdown(withSections(shortConnections));
  t.ok(lines(md).includes('- *ipvs*: unavailable — ip\\_vs module not loadable in this kernel (modprobe: FATAL: Module ip\\_vs not found)'));
  t.notOk(
    lines(md).some((l) => l.startsWith('| ipvs')),
    'no table row for ipvs',
  );
});

t.test('a sweep: a pivot of the primary metric by x, then every metric per mode and x', async (t) => {
  const md = lines(renderMarkdown(withSections(serviceScalability)));
  const at = md.indexOf('Median **conn/s** by services:');
  t.ok(at > 0);
  t.same(md.slice(at + 2, at + 7), [
    '| Mode | 1 | 100 | 1,000 | 5,000 | 10,000 |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    '| socket | 24,900 | 24,899 | 24,890 | 24,850 | 24,800 |',
    '| iptables | 18,200 | 17,650 | 12,900 | 6,100 | 3,400 |',
    '| direct | 25,200 | 25,200 | 25,200 | 25,200 | 25,200 |',
  ]);
  t.ok(md.includes('| Mode | services | conn/s | vs direct |'));
  t.ok(md.includes('| iptables | 10,000 | 3,400 (3,332–3,434) | 0.135 |'));
  t.ok(md.includes('<details><summary>All metrics</summary>'));
});

t.test('a sweep point a mode did not reach is a dash in the pivot', async (t) => {
  const section = { ...serviceScalability, rows: serviceScalability.rows.filter((r) => !(r.mode === 'iptables' && r.x === 10000)) };
  t.ok(lines(renderMarkdown(withSections(section))).includes('| iptables | 18,200 | 17,650 | 12,900 | 6,100 | — |'));
});

t.test('chart links only when a chart directory is given', async (t) => {
  t.notMatch(renderMarkdown(fixture), '![');
  const md = renderMarkdown(fixture, { chartDir: 'charts/' });
  t.match(md, '![Short connections](charts/short-connections.svg)');
  t.match(md, '![Service scalability](charts/service-scalability.svg)');
  t.match(renderMarkdown(fixture, { chartDir: 'my charts (v2)' }), '](my%20charts%20%28v2%29/short-connections.svg)', 'a path cannot end the link early');
  t.match(renderMarkdown(fixture, { chartDir: '' }), '](short-connections.svg)');
  const odd = { ...shortConnections, id: '../x y' };
  t.match(renderMarkdown(withSections(odd), { chartDir: 'charts' }), '](charts/-x-y.svg)', 'an id cannot leave the chart directory');
});

const noSamples = { ...shortConnections.rows[0]!, mode: 'nftables', values: { rate: sample(), p50Us: sample(), p99Us: sample() }, ratioToDirect: Number.NaN };
const withEmpty: SuiteSection = { ...shortConnections, rows: [...shortConnections.rows, noSamples] };

t.test('a mode without samples renders dashes, not NaN', async (t) => {
  const md = renderMarkdown(withSections(withEmpty));
  t.ok(lines(md).includes('| nftables | — | — | — | — |'));
  t.notMatch(md, /NaN|Infinity/);
  // After the JSON file round trip NaN and ±Infinity are null; the renderer must take that too.
  const reread = JSON.parse(JSON.stringify(withSections(withEmpty))) as SuiteResult;
  t.ok(lines(renderMarkdown(reread)).includes('| nftables | — | — | — | — |'));
  const svg = renderChart(withEmpty);
  t.notMatch(svg, /NaN|Infinity/);
  t.match(svg, '— no samples');
  t.same(xmlProblems(svg), []);
});

t.test('a section without rows says so and still charts', async (t) => {
  const empty: SuiteSection = { ...shortConnections, rows: [], notes: [] };
  const md = renderMarkdown(withSections(empty));
  t.match(md, '*No measurements.*');
  t.notMatch(md, '**Notes**');
  for (const section of [
    empty,
    { ...serviceScalability, rows: [] },
    { ...serviceScalability, unavailable: [], rows: serviceScalability.rows.map((r) => ({ ...r, values: {} })) },
  ]) {
    const svg = renderChart(section);
    t.same(xmlProblems(svg), [], section.id);
    t.notMatch(svg, /NaN|Infinity/);
  }
});

const hostile = 'a<b&c|d*';
const escaping: SuiteSection = {
  ...shortConnections,
  title: 'Tricky <names> & "quotes"',
  rows: [{ ...shortConnections.rows[0]!, mode: hostile }],
  unavailable: [{ mode: 'x&y', reason: 'needs <root> & a kernel' }],
  notes: ['<script>alert(1)</script> & `code` stays code'],
};

t.test('names and notes are escaped in Markdown', async (t) => {
  const md = renderMarkdown(withSections(escaping), { chartDir: 'charts' });
  t.ok(
    lines(md).some((l) => l.startsWith('| a&lt;b&amp;c\\|d\\* | 24,977')),
    'mode cell: no tag, no split cell, no emphasis',
  );
  t.match(md, '- *x&amp;y*: unavailable — needs &lt;root&gt; &amp; a kernel');
  t.match(md, '- &lt;script&gt;alert(1)&lt;/script&gt; &amp; `code` stays code');
  t.match(md, '## Tricky &lt;names&gt; &amp; "quotes"');
  t.notMatch(md, '<script>');
});

t.test('names and titles are escaped in SVG', async (t) => {
  for (const section of [escaping, { ...escaping, xLabel: 'n < m', rows: [{ ...escaping.rows[0]!, x: 1 }] }]) {
    const svg = renderChart(section);
    t.same(xmlProblems(svg), []);
    t.match(svg, 'a&lt;b&amp;c|d*');
    t.match(svg, 'Tricky &lt;names&gt; &amp; &quot;quotes&quot;');
    t.notMatch(svg, '<b&');
  }
});

t.test('the bar chart: a self-contained SVG on white, bars proportional to the medians', async (t) => {
  const svg = renderChart(shortConnections);
  t.same(xmlProblems(svg), []);
  t.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.match(svg, '<rect x="0" y="0" width="760"', 'white background first, for dark themes');
  t.match(svg, 'fill="#ffffff"');
  t.notMatch(svg, /<script|href=|@import|url\(/, 'nothing external');
  t.match(svg, '>Short connections</text>');
  t.match(svg, 'class="axis-label">conn/s</text>', 'axis labelled with the unit');
  t.match(svg, 'class="tick">20K</text>');
  t.match(svg, 'Unavailable on this machine: ipvs');
  const bars = elements(svg, 'rect').filter((r) => r.class === 'bar');
  t.same(
    bars.map((b) => b['data-mode']),
    ['socket', 'conntrack', 'iptables', 'direct'],
  );
  const perUnit = bars.map((b) => Number(b.width) / Number(b['data-value']));
  for (const k of perUnit) t.ok(Math.abs(k / perUnit[0]! - 1) < 1e-3, `width/value ${k} matches ${perUnit[0]}`);
  t.same(new Set(bars.map((b) => b.x)).size, 1, 'all bars start at the same zero');
  for (const v of ['24,977', '19,630', '18,260', '25,210']) t.match(svg, `class="value">${v}</text>`, 'value printed');
  t.equal(elements(svg, 'line').filter((l) => l.class === 'whisker').length, 4);
});

t.test('the line chart: x on a log scale across 1…10,000 services, y from 0, a legend entry per mode', async (t) => {
  const svg = renderChart(serviceScalability);
  t.same(xmlProblems(svg), []);
  t.match(svg, '<g class="x-axis" data-scale="log"');
  t.match(svg, '>services (log scale)</text>');
  for (const tick of ['1', '10', '100', '1K', '10K']) t.match(svg, `class="tick">${tick}</text>`);
  const cx = new Map(
    elements(svg, 'circle')
      .filter((c) => c.class === 'marker' && c['data-mode'] === 'iptables')
      .map((c) => [Number(c['data-x']), Number(c.cx)]),
  );
  const decade = cx.get(100)! - cx.get(1)!;
  t.ok(Math.abs(decade / 2 - (cx.get(1000)! - cx.get(100)!)) < 0.02, 'one decade is a constant width');
  t.ok(Math.abs(cx.get(10000)! - cx.get(1000)! - decade / 2) < 0.02);
  const yAxis = svg.match(/<g class="y-axis" data-scale="linear">.*?<\/g>/s)![0];
  t.match(yAxis, 'class="tick">0</text>', 'y starts at 0');
  t.match(yAxis, 'class="axis-label">conn/s</text>');
  t.equal(elements(svg, 'polyline').length, 3, 'a line per mode');
  t.same(
    [...svg.matchAll(/class="legend"[^>]*>([^<]*)</g)].map((m) => m[1]),
    ['socket', 'iptables', 'direct'],
  );
  t.match(svg, '<title>iptables at 10,000 services: 3,400</title>', 'hover shows the exact value');
});

t.test('the line chart stays linear when x spans less than two decades', async (t) => {
  const section: SuiteSection = {
    ...serviceScalability,
    xLabel: 'backend pods',
    rows: [1, 2, 4, 8].map((x) => ({ mode: 'socket', x, values: { rate: sample(1000 * x) } })),
  };
  const svg = renderChart(section);
  t.match(svg, '<g class="x-axis" data-scale="linear"');
  t.match(svg, '>backend pods</text>');
  const cx = elements(svg, 'circle')
    .filter((c) => c.class === 'marker')
    .map((c) => Number(c.cx));
  t.ok(Math.abs(cx[2]! - cx[1]! - 2 * (cx[1]! - cx[0]!)) < 0.02, 'equal steps in x are equal distances');
  const single = renderChart({
    ...section,
    rows: [
      { mode: 'socket', x: 3, values: { rate: sample(5) } },
      { mode: 'ipvs', x: 3, values: {} },
    ],
  });
  t.same(xmlProblems(single), [], 'a single x point');
  t.match(single, 'ipvs (no samples)');
});

t.test('writeReport writes result.json, report.md and one chart per section', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = writeReport(fixture, join(dir, 'run'));
  t.equal(out.json, join(dir, 'run', 'result.json'));
  t.same(JSON.parse(readFileSync(out.json, 'utf8')), fixture);
  t.same(out.charts, [join(dir, 'run', 'charts', 'short-connections.svg'), join(dir, 'run', 'charts', 'service-scalability.svg')]);
  for (const chart of out.charts) t.same(xmlProblems(readFileSync(chart, 'utf8')), [], chart);
  const md = readFileSync(out.markdown, 'utf8');
  t.equal(md, renderMarkdown(fixture, { chartDir: 'charts' }));
  for (const link of md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) t.ok(existsSync(join(dir, 'run', link[1]!)), `${link[1]} exists`);
});

t.test('without direct there is no vs-direct column; a latency chart says lower is better', async (t) => {
  const latency: SuiteSection = {
    ...shortConnections,
    primary: 'p99Us',
    rows: shortConnections.rows.filter((r) => r.mode !== 'direct').map(({ ratioToDirect: _, ...r }) => r),
  };
  const md = renderMarkdown(withSections(latency));
  t.ok(lines(md).includes('| Mode | conn/s | p50 µs | p99 µs |'));
  t.notMatch(md, 'vs direct |');
  const svg = renderChart(latency);
  t.match(svg, 'Median p99 µs per mode, whiskers span min–max (lower is better)');
  t.match(svg, 'class="value">93.6</text>');
});

t.test('a bar without a min–max range gets no whisker', async (t) => {
  const svg = renderChart({ ...shortConnections, unavailable: [], rows: [{ mode: 'socket', values: { rate: { median: 10, min: Number.NaN, max: Number.NaN, samples: [] } } }] });
  t.notMatch(svg, 'class="whisker"');
  t.notMatch(svg, 'Unavailable');
  t.match(svg, 'class="value">10</text>');
});
