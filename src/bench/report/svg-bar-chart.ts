// A section without a sweep as horizontal bars: one bar per mode at the primary metric's median,
// a min–max whisker over it, the value printed at its end. Bars start at 0 so lengths compare.
import { formatNumber, measured, numberStyle } from './format.js';
import { modeColor } from './mode-colors.js';
import { linearScale } from './scales.js';
import { primaryMetric, rowsByMode } from './section-view.js';
import type { SuiteSection } from './suite-result.js';
import { bottomAxis, footnoteHeight, INK, metricSubtitle, MUTED, svgDocument, textWidth, unavailableFootnote, type Plot } from './svg-frame.js';
import { el, textEl } from './xml.js';

const WIDTH = 760;
const ROW = 30;
const BAR = 18;
const VALUE_ROOM = 100;

export function renderBarChart(section: SuiteSection): string {
  const metric = primaryMetric(section);
  const style = numberStyle(metric);
  const rows = rowsByMode(section).flatMap((g) => g.rows);
  const left = Math.max(90, ...rows.map((r) => textWidth(r.mode, 12) + 24));
  const plot: Plot = { left, top: 80, right: WIDTH - VALUE_ROOM, bottom: 80 + rows.length * ROW + 6 };
  const highest = Math.max(0, ...rows.flatMap((r) => [r.values[metric.id]?.median, r.values[metric.id]?.max].map(measured).filter((v) => v !== undefined)));
  const scale = linearScale(0, highest, [plot.left, plot.right]);

  const bars = rows.flatMap((row, i) => {
    const cy = plot.top + i * ROW + ROW / 2;
    const label = textEl({ x: left - 8, y: cy + 4, 'text-anchor': 'end', class: 'mode' }, row.mode);
    const v = row.values[metric.id];
    const median = measured(v?.median);
    if (median === undefined) return [label, textEl({ x: left + 6, y: cy + 4, fill: MUTED, 'font-style': 'italic' }, '— no samples')];
    const [min, max] = [measured(v?.min), measured(v?.max)];
    const end = scale.map(Math.max(median, max ?? median));
    const out = [
      label,
      el('rect', {
        class: 'bar',
        'data-mode': row.mode,
        'data-value': median,
        x: left,
        y: cy - BAR / 2,
        width: Math.max(0, scale.map(median) - left),
        height: BAR,
        fill: modeColor(row.mode),
      }),
    ];
    if (min !== undefined && max !== undefined) out.push(...whisker(scale.map(min), scale.map(max), cy, 'whisker'));
    out.push(textEl({ x: end + 6, y: cy + 4, class: 'value' }, formatNumber(median, style)));
    return out;
  });

  const footY = plot.bottom + 62;
  const height = footY + footnoteHeight(section) - 4;
  return svgDocument(WIDTH, height, section.title, metricSubtitle(metric), [
    ...bottomAxis(scale, plot, metric.label),
    ...legend(),
    ...bars,
    ...unavailableFootnote(section, footY),
  ]);
}

function whisker(x1: number, x2: number, cy: number, klass?: string): string[] {
  const attrs = { stroke: INK, 'stroke-width': 1.5 };
  return [
    el('line', { class: klass, x1, y1: cy, x2, y2: cy, ...attrs }),
    el('line', { x1, y1: cy - 5, x2: x1, y2: cy + 5, ...attrs }),
    el('line', { x1: x2, y1: cy - 5, x2, y2: cy + 5, ...attrs }),
  ];
}

/** The glyph key: the bars' colours are already named by the mode labels beside them. */
function legend(): string[] {
  return [
    el('rect', { x: 16, y: 55, width: 16, height: 10, fill: MUTED }),
    textEl({ x: 38, y: 64 }, 'median'),
    ...whisker(96, 120, 60),
    textEl({ x: 128, y: 64 }, 'min–max over repetitions'),
  ];
}
