// The suite result as a Markdown report: a header saying where and how it was measured, then per
// section a table of median (min–max) per mode, the modes that could not run and why, and the chart.
import { formatNumber, formatRatio, formatSpread, MISSING, numberStyle } from './format.js';
import { inlineCode, mdLiteral, mdProse, mdTable, type Align } from './markdown-text.js';
import { chartFileName, isSweep, modesOf, primaryMetric, rowsByMode, xValuesOf } from './section-view.js';
import type { SuiteResult, SuiteRow, SuiteSection } from './suite-result.js';

export interface MarkdownOptions {
  /** Directory (relative to the report) holding `<section-id>.svg`; no image links without it. */
  chartDir?: string;
}

export function renderMarkdown(result: SuiteResult, opts: MarkdownOptions = {}): string {
  const blocks = [header(result), ...result.sections.map((s) => renderSection(s, opts))];
  return `${blocks.join('\n\n')}\n`;
}

function header(result: SuiteResult): string {
  const m = result.machine;
  return [
    `# socklb benchmark report: ${mdLiteral(result.profile)} profile`,
    '',
    `- **Date:** ${mdLiteral(result.date)}`,
    `- **Machine:** kernel ${mdLiteral(m.kernel)}, ${m.cpus} CPUs (${mdLiteral(m.cpuModel)}), Node ${mdLiteral(m.node)}`,
    `- **Reproduce:** ${inlineCode(result.command)}`,
    ...(result.notRun?.length
      ? [`- **Not run:** ${result.notRun.map(mdLiteral).join(', ')} (the run ended before them; \`bench --sections\` runs them alone, \`bench merge\` joins the reports)`]
      : []),
    '',
    'Cells are median (min–max) over the repetitions. *vs direct* is the primary metric’s median divided by direct’s ' +
      '(no load balancer) at the same point: 1.000 means no difference.',
  ].join('\n');
}

function renderSection(section: SuiteSection, opts: MarkdownOptions): string {
  const parts = [`## ${mdLiteral(section.title)}`, mdProse(section.description)];
  if (section.rows.length === 0) parts.push('*No measurements.*');
  else if (isSweep(section)) parts.push(pivotTable(section), details('All metrics', fullTable(section)));
  else parts.push(fullTable(section));
  if (section.unavailable.length > 0) parts.push(section.unavailable.map((u) => `- *${mdLiteral(u.mode)}*: unavailable — ${mdLiteral(u.reason)}`).join('\n'));
  if (section.notes?.length) parts.push(['**Notes**', '', ...section.notes.map((n) => `- ${mdProse(n)}`)].join('\n'));
  if (opts.chartDir !== undefined) parts.push(`![${mdLiteral(section.title)}](${chartPath(opts.chartDir, section)})`);
  return parts.join('\n\n');
}

function chartPath(chartDir: string, section: SuiteSection): string {
  const dir = chartDir.replace(/\/+$/, '');
  // Encoded so a space or parenthesis in the directory cannot end the link early.
  return encodeURI(`${dir === '' ? '' : `${dir}/`}${chartFileName(section)}`)
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29');
}

/** Every metric per row; rows are mode (× x for sweeps), in the suite's mode order. */
function fullTable(section: SuiteSection): string {
  const sweep = isSweep(section);
  const withRatio = section.rows.some((r) => r.ratioToDirect !== undefined);
  const header = ['Mode', ...(sweep ? [mdLiteral(section.xLabel!)] : []), ...section.metrics.map((m) => mdLiteral(m.label)), ...(withRatio ? ['vs direct'] : [])];
  const align: Align[] = header.map((_, i) => (i === 0 ? 'left' : 'right'));
  const rows = rowsByMode(section).flatMap((g) => g.rows);
  const cells = rows.map((row: SuiteRow) => [
    mdLiteral(row.mode),
    ...(sweep ? [formatNumber(row.x, 'plain')] : []),
    ...section.metrics.map((m) => formatSpread(row.values[m.id], numberStyle(m))),
    ...(withRatio ? [formatRatio(row.ratioToDirect)] : []),
  ]);
  return mdTable(header, align, cells);
}

/** Sweeps at a glance: one row per mode, one column per x, the primary metric's median in each cell. */
function pivotTable(section: SuiteSection): string {
  const metric = primaryMetric(section);
  const style = numberStyle(metric);
  const xs = xValuesOf(section);
  const header = ['Mode', ...xs.map((x) => formatNumber(x, 'plain'))];
  const cells = modesOf(section).map((mode) => [
    mdLiteral(mode),
    ...xs.map((x) => {
      const row = section.rows.find((r) => r.mode === mode && r.x === x);
      return row ? formatNumber(row.values[metric.id]?.median, style) : MISSING;
    }),
  ]);
  const caption = `Median **${mdLiteral(metric.label)}** by ${mdLiteral(section.xLabel!)}:`;
  return `${caption}\n\n${mdTable(
    header,
    header.map((_, i) => (i === 0 ? 'left' : 'right')),
    cells,
  )}`;
}

/** A collapsed block; GitHub renders Markdown inside it when blank lines surround the content. */
function details(summary: string, body: string): string {
  return `<details><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}
