// A cgroup v2 directory made for one run, so programs are never attached to the machine's
// root cgroup outside production. Processes join it before entering a network namespace,
// because `ip netns exec` remounts /sys and the cgroup tree would no longer be reachable.
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { findCgroup2Root } from '../bpf/kernel-env.js';

export class RunCgroup {
  readonly path: string;

  constructor(name: string) {
    this.path = join(findCgroup2Root(), name);
    mkdirSync(this.path);
  }

  get procsFile(): string {
    return join(this.path, 'cgroup.procs');
  }

  pids(): number[] {
    if (!existsSync(this.procsFile)) return [];
    return readFileSync(this.procsFile, 'utf8').split('\n').filter(Boolean).map(Number);
  }

  /** Removes the directory; the kernel refuses while a process is inside, so callers end theirs first. */
  async remove(deadlineMs = 5000): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        if (existsSync(this.path)) rmdirSync(this.path);
        return;
      } catch (err) {
        if (Date.now() > until) throw new Error(`cannot remove cgroup ${this.path}: ${(err as Error).message}; still inside: ${this.pids().join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}
