// Writes a suite run's report directory: the raw result (what everything else is rendered from,
// so a report can be re-rendered later), report.md, and one SVG chart per section. The only
// module of the report that touches the file system.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMarkdown } from './markdown-report.js';
import { chartFileName } from './section-view.js';
import type { SuiteResult } from './suite-result.js';
import { renderChart } from './svg-chart.js';

const CHART_DIR = 'charts';

export function writeReport(result: SuiteResult, dir: string): { json: string; markdown: string; charts: string[] } {
  mkdirSync(join(dir, CHART_DIR), { recursive: true });
  const json = join(dir, 'result.json');
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  const charts = result.sections.map((section) => {
    const path = join(dir, CHART_DIR, chartFileName(section));
    writeFileSync(path, renderChart(section));
    return path;
  });
  const markdown = join(dir, 'report.md');
  writeFileSync(markdown, renderMarkdown(result, { chartDir: CHART_DIR }));
  return { json, markdown, charts };
}
