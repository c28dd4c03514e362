// What every chart shares: the document with its white background (GitHub's dark theme would
// otherwise show black text on near-black), title, axes with ticks and unit labels, the footnote
// naming unavailable modes. System font stacks only: the SVG must be self-contained.
import { formatTick } from './format.js';
import type { Scale } from './scales.js';
import type { MetricSpec, SuiteSection } from './suite-result.js';
import { el, escapeXml, textEl } from './xml.js';

export const INK = '#1f2328';
export const MUTED = '#57606a';
export const GRID = '#d0d7de';
const FONT = 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif';

/** Rough width of a label in px, for layout: about 0.6 em per character in a sans-serif font. */
export function textWidth(s: string, fontSize: number): number {
  return [...s].length * fontSize * 0.6;
}

export function svgDocument(width: number, height: number, title: string, subtitle: string, body: string[]): string {
  const root = el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'font-family': FONT, 'font-size': 12, fill: INK }, [
    el('title', {}, [escapeXml(title)]),
    el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    textEl({ x: 16, y: 24, 'font-size': 16, 'font-weight': 600 }, title),
    textEl({ x: 16, y: 42, fill: MUTED }, subtitle),
    ...body,
  ]);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}\n`;
}

export interface Plot {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Value axis along the bottom: grid lines up through the plot, tick labels, the axis title below. */
export function bottomAxis(scale: Scale, plot: Plot, label: string): string[] {
  const out: string[] = [el('line', { x1: plot.left, y1: plot.bottom, x2: plot.right, y2: plot.bottom, stroke: MUTED })];
  for (const t of scale.ticks) {
    const x = scale.map(t);
    out.push(el('line', { x1: x, y1: plot.top, x2: x, y2: plot.bottom, stroke: GRID, 'stroke-dasharray': '2 3' }));
    out.push(el('line', { x1: x, y1: plot.bottom, x2: x, y2: plot.bottom + 5, stroke: MUTED }));
    out.push(textEl({ x, y: plot.bottom + 18, 'text-anchor': 'middle', fill: MUTED, class: 'tick' }, formatTick(t)));
  }
  out.push(textEl({ x: (plot.left + plot.right) / 2, y: plot.bottom + 38, 'text-anchor': 'middle', class: 'axis-label' }, label));
  return [el('g', { class: 'x-axis', 'data-scale': scale.kind }, out)];
}

/** Value axis on the left: horizontal grid lines, tick labels, the axis title rotated alongside. */
export function leftAxis(scale: Scale, plot: Plot, label: string): string[] {
  const out: string[] = [el('line', { x1: plot.left, y1: plot.top, x2: plot.left, y2: plot.bottom, stroke: MUTED })];
  for (const t of scale.ticks) {
    const y = scale.map(t);
    out.push(el('line', { x1: plot.left, y1: y, x2: plot.right, y2: y, stroke: GRID, 'stroke-dasharray': '2 3' }));
    out.push(el('line', { x1: plot.left - 5, y1: y, x2: plot.left, y2: y, stroke: MUTED }));
    out.push(textEl({ x: plot.left - 8, y: y + 4, 'text-anchor': 'end', fill: MUTED, class: 'tick' }, formatTick(t)));
  }
  const cy = (plot.top + plot.bottom) / 2;
  out.push(textEl({ x: 16, y: cy, 'text-anchor': 'middle', transform: `rotate(-90 16 ${cy})`, class: 'axis-label' }, label));
  return [el('g', { class: 'y-axis', 'data-scale': scale.kind }, out)];
}

/** The modes the section could not run, so a missing bar or line is never mistaken for zero. */
export function unavailableFootnote(section: SuiteSection, y: number): string[] {
  if (section.unavailable.length === 0) return [];
  const modes = section.unavailable.map((u) => u.mode).join(', ');
  return [textEl({ x: 16, y, fill: MUTED, 'font-style': 'italic', class: 'unavailable' }, `Unavailable on this machine: ${modes} (reasons in the report)`)];
}

/** Room the footnote needs below the axis. */
export const footnoteHeight = (section: SuiteSection) => (section.unavailable.length === 0 ? 0 : 22);

/** What is plotted and which way is good, under the title. */
export function metricSubtitle(metric: MetricSpec): string {
  return `Median ${metric.label} per mode, whiskers span min–max (${metric.higherIsBetter ? 'higher' : 'lower'} is better)`;
}
