// Removes what abandoned lab runs left behind: their processes (found in their namespaces and
// cgroup, ended by PID), programs and pins, namespaces and cgroup.
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { findCgroup2Root } from '../bpf/kernel-env.js';
import { uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { run, tryRun } from './command.js';
import { abandonedRuns, forgetRun } from './lab-run.js';

function endPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Returns, per swept run, what could not be removed (empty when all went). */
export async function sweepAbandonedRuns(): Promise<Map<string, string[]>> {
  const report = new Map<string, string[]>();
  const ids = abandonedRuns();
  if (ids.length === 0) return report;
  const namespaces = run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
  const cgroupRoot = findCgroup2Root();
  for (const id of ids) {
    const problems: string[] = [];
    for (const dir of existsSync('/sys/fs/bpf') ? readdirSync('/sys/fs/bpf').filter((d) => d.startsWith('socklb-') && d.endsWith(`-${id}`)) : []) {
      try {
        uninstallSockDatapath(join('/sys/fs/bpf', dir));
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    const mine = namespaces.filter((ns) => ns.startsWith(`slb-${id}-`));
    for (const ns of mine) endPids(run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number));
    const cgroups = readdirSync(cgroupRoot).filter((d) => d === `socklb-${id}`);
    for (const cg of cgroups)
      endPids(
        readFileSync(join(cgroupRoot, cg, 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number),
      );
    await sleep(200);
    for (const ns of mine) {
      const p = tryRun('ip', ['netns', 'del', ns]);
      if (p) problems.push(p);
    }
    for (const cg of cgroups) {
      try {
        rmdirSync(join(cgroupRoot, cg));
      } catch (err) {
        problems.push(`cgroup ${cg}: ${(err as Error).message}`);
      }
    }
    if (problems.length === 0) forgetRun(id);
    report.set(id, problems);
  }
  return report;
}
