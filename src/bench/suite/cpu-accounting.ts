// CPU time the whole machine spent while a run went on, from /proc/stat: user, nice, system,
// irq and softirq of every CPU (not idle, iowait or steal). Whole-machine time is the honest
// measure here: a connection's cost lands in the client, the server and the kernel's softirq
// work, and the datapaths differ in where they put it. The bench machine runs nothing else.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ: /proc/stat counts in these. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** Busy CPU time so far, in microseconds, summed over CPUs. */
export function busyCpuMicros(stat: string = readFileSync('/proc/stat', 'utf8')): number {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no "cpu " line');
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) * 1e6) / ticksPerSecond();
}
