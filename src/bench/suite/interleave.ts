// Modes run in turns, A B C …, then … C B A, so drift in the machine (thermal, background
// work, caches) hits every mode alike.
import type { BenchMode, ClientRun } from './bench-topology.js';

export type Progress = (line: string) => void;

const describeRun = (r: ClientRun): string =>
  `${r.rate.toFixed(0).padStart(6)}/s p50 ${r.p50Us.toFixed(1)} us p99 ${r.p99Us.toFixed(1)} us cpu ${r.cpuUsPerTransaction.toFixed(1)} us errors ${r.errors}`;

/** Runs every mode `repetitions` times, interleaved; returns the runs by mode in mode order. */
export async function interleaved<R = ClientRun>(
  modes: readonly BenchMode[],
  repetitions: number,
  once: (mode: BenchMode) => Promise<R>,
  progress: Progress,
  label: string,
  describe: (r: R) => string = describeRun as unknown as (r: R) => string,
): Promise<Map<BenchMode, R[]>> {
  const runs = new Map<BenchMode, R[]>(modes.map((m) => [m, []]));
  for (let rep = 0; rep < repetitions; rep++) {
    const order = rep % 2 === 0 ? [...modes] : [...modes].reverse();
    for (const mode of order) {
      const r = await once(mode);
      runs.get(mode)!.push(r);
      progress(`${label} ${rep + 1}/${repetitions} ${mode.padEnd(9)} ${describe(r)}`);
    }
  }
  return runs;
}
