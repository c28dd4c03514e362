// The chart for one suite section: bars per mode for a single measurement point, lines over the
// swept parameter when the section has one.
import { isSweep } from './section-view.js';
import type { SuiteSection } from './suite-result.js';
import { renderBarChart } from './svg-bar-chart.js';
import { renderLineChart } from './svg-line-chart.js';

export function renderChart(section: SuiteSection): string {
  return isSweep(section) ? renderLineChart(section) : renderBarChart(section);
}
