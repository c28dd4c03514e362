// One run of a test, bench or demo, and the names of everything it makes: namespaces
// slb-ID-*, cgroup socklb-ID, pins /sys/fs/bpf/socklb-KIND-ID. A marker file records the owning
// process, so a run that was killed before its clean-up (SIGKILL, a closed pipe, a CI timeout)
// can be found and removed later by sweepAbandonedRuns.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../process-alive.js';

const MARKERS = '/run/socklb-lab';

export class LabRun {
  private constructor(readonly id: string) {}

  static begin(): LabRun {
    const run = new LabRun(randomBytes(4).toString('hex'));
    mkdirSync(MARKERS, { recursive: true });
    writeFileSync(join(MARKERS, run.id), `${process.pid}\n`);
    return run;
  }

  get netnsPrefix(): string {
    return `slb-${this.id}-`;
  }

  get cgroupName(): string {
    return `socklb-${this.id}`;
  }

  /** A bpffs directory for this run's pins; kind says who made it (test, demo, bench). */
  bpffs(kind: string): string {
    return `/sys/fs/bpf/socklb-${kind}-${this.id}`;
  }

  end(): void {
    rmSync(join(MARKERS, this.id), { force: true });
  }
}

/** Ids of runs whose owning process is gone. */
export function abandonedRuns(): string[] {
  if (!existsSync(MARKERS)) return [];
  return readdirSync(MARKERS).filter((id) => /^[0-9a-f]{8}$/.test(id) && !processAlive(Number(readFileSync(join(MARKERS, id), 'utf8').trim())));
}

export function forgetRun(id: string): void {
  rmSync(join(MARKERS, id), { force: true });
}
