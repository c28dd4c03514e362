// A swept section as lines: x is the swept parameter, y the primary metric's median from 0, one
// line per mode with markers and min–max whiskers at each measured point. x goes logarithmic when
// it spans two decades or more, otherwise 1, 100 and 1,000 services would crowd into one corner.
import { formatNumber, measured, numberStyle } from './format.js';
import { modeColor } from './mode-colors.js';
import { linearScale, logScale, wantsLogScale, type Scale } from './scales.js';
import { primaryMetric, rowsByMode, xValuesOf } from './section-view.js';
import type { SuiteSection } from './suite-result.js';
import { bottomAxis, footnoteHeight, leftAxis, metricSubtitle, MUTED, svgDocument, textWidth, unavailableFootnote, type Plot } from './svg-frame.js';
import { el, escapeXml, textEl } from './xml.js';

const WIDTH = 760;
const PLOT_HEIGHT = 300;
/** Keeps markers at the ends of the x range off the y axis and the legend. */
const INSET = 12;

interface Point {
  x: number;
  median: number;
  min?: number;
  max?: number;
}

export function renderLineChart(section: SuiteSection): string {
  const metric = primaryMetric(section);
  const style = numberStyle(metric);
  const series = rowsByMode(section).map((g) => ({
    mode: g.mode,
    points: g.rows.flatMap((r): Point[] => {
      const v = r.values[metric.id];
      const [x, median] = [measured(r.x), measured(v?.median)];
      return x === undefined || median === undefined ? [] : [{ x, median, min: measured(v?.min), max: measured(v?.max) }];
    }),
  }));

  const labels = series.map((s) => (s.points.length === 0 ? `${s.mode} (no samples)` : s.mode));
  const legendWidth = Math.max(110, ...labels.map((l) => textWidth(l, 12) + 48));
  const plot: Plot = { left: 72, top: 64, right: WIDTH - legendWidth - 16, bottom: 64 + PLOT_HEIGHT };
  const xs = xValuesOf(section);
  const log = wantsLogScale(xs);
  const xRange: [number, number] = [plot.left + INSET, plot.right - INSET];
  const xScale = xs.length === 0 ? linearScale(0, 1, xRange) : log ? logScale(xs[0]!, xs.at(-1)!, xRange) : linearScale(xs[0]!, xs.at(-1)!, xRange, { nice: false });
  const highest = Math.max(0, ...series.flatMap((s) => s.points.map((p) => Math.max(p.median, p.max ?? p.median))));
  const yScale = linearScale(0, highest, [plot.bottom, plot.top]);

  // Called for sweeps, which name their x; 'x' only keeps a hand-made section renderable.
  const xName = section.xLabel ?? 'x';
  const lines = series.flatMap((s) => drawSeries(s.mode, s.points, xScale, yScale, (v) => formatNumber(v, style), xName));
  const legend = series.flatMap((s, i) => legendEntry(s.mode, labels[i]!, s.points.length === 0, plot.right + 24, plot.top + 8 + i * 20));

  const footY = plot.bottom + 62;
  return svgDocument(WIDTH, footY + footnoteHeight(section) - 4, section.title, metricSubtitle(metric), [
    ...bottomAxis(xScale, plot, log ? `${xName} (log scale)` : xName),
    ...leftAxis(yScale, plot, metric.label),
    ...lines,
    ...legend,
    ...unavailableFootnote(section, footY),
  ]);
}

function drawSeries(mode: string, points: Point[], xScale: Scale, yScale: Scale, fmt: (v: number) => string, xLabel: string): string[] {
  const color = modeColor(mode);
  const out: string[] = [];
  if (points.length > 1) {
    const path = points.map((p) => `${round(xScale.map(p.x))},${round(yScale.map(p.median))}`).join(' ');
    out.push(el('polyline', { class: 'series', 'data-mode': mode, points: path, fill: 'none', stroke: color, 'stroke-width': 2 }));
  }
  for (const p of points) {
    const cx = xScale.map(p.x);
    if (p.min !== undefined && p.max !== undefined)
      out.push(el('line', { class: 'whisker', x1: cx, y1: yScale.map(p.min), x2: cx, y2: yScale.map(p.max), stroke: color, 'stroke-width': 1.5 }));
    // The <title> gives the exact value on hover, which the axis can only approximate.
    const tip = el('title', {}, [escapeXml(`${mode} at ${formatNumber(p.x, 'plain')} ${xLabel}: ${fmt(p.median)}`)]);
    out.push(
      el('circle', { class: 'marker', 'data-mode': mode, 'data-x': p.x, 'data-value': p.median, cx, cy: yScale.map(p.median), r: 4, fill: color, stroke: '#ffffff' }, [tip]),
    );
  }
  return out;
}

function legendEntry(mode: string, label: string, empty: boolean, x: number, y: number): string[] {
  const color = modeColor(mode);
  return [
    el('line', { x1: x, y1: y, x2: x + 24, y2: y, stroke: color, 'stroke-width': 2 }),
    el('circle', { cx: x + 12, cy: y, r: 4, fill: color, stroke: '#ffffff' }),
    textEl({ x: x + 32, y: y + 4, class: 'legend', fill: empty ? MUTED : undefined }, label),
  ];
}

const round = (v: number) => Math.round(v * 100) / 100;
