// Axis scales for the charts: value -> pixel, with tick values. Linear scales round their domain
// out to "nice" steps (1, 2, 5 × 10^k); log scales run decade to decade.

export interface Scale {
  kind: 'linear' | 'log';
  domain: [number, number];
  ticks: number[];
  map(v: number): number;
}

/** Below 2 decades a log axis hides more than it shows; sweeps like 1…10,000 services need one. */
export function wantsLogScale(values: readonly number[]): boolean {
  if (values.length === 0 || values.some((v) => v <= 0)) return false;
  return Math.max(...values) / Math.min(...values) >= 100;
}

export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const mantissa = raw / power;
  return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * power;
}

// Multiples of a step carry float noise (0.1 * 3); twelve significant digits is far below a pixel.
const clean = (v: number) => Number(v.toPrecision(12));

/**
 * A linear scale over [lo, hi] onto [r0, r1]. With `nice` the domain grows to whole steps (value
 * axes starting at 0); without it the domain stays the data's (x axes) and ticks fall inside it.
 */
export function linearScale(lo: number, hi: number, range: [number, number], opts: { nice: boolean; ticks?: number } = { nice: true }): Scale {
  if (!(hi > lo)) [lo, hi] = opts.nice ? [lo, lo + 1] : [lo - 1, hi + 1];
  const step = niceStep(hi - lo, opts.ticks ?? 5);
  if (opts.nice) [lo, hi] = [clean(Math.floor(lo / step) * step), clean(Math.ceil(hi / step) * step)];
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(clean(k * step));
  const [r0, r1] = range;
  const d0 = lo;
  const d1 = hi;
  return { kind: 'linear', domain: [d0, d1], ticks, map: (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0) };
}

/** A log10 scale from the decade at or below lo to the decade at or above hi; one tick per decade. */
export function logScale(lo: number, hi: number, range: [number, number]): Scale {
  const e0 = Math.floor(Math.log10(lo));
  const e1 = Math.max(e0 + 1, Math.ceil(Math.log10(hi)));
  const ticks = Array.from({ length: e1 - e0 + 1 }, (_, i) => 10 ** (e0 + i));
  const [r0, r1] = range;
  return { kind: 'log', domain: [10 ** e0, 10 ** e1], ticks, map: (v) => r0 + ((Math.log10(v) - e0) / (e1 - e0)) * (r1 - r0) };
}
