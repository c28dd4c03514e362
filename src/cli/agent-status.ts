// What the agent knows and the maps do not say: which frontends are not as desired, why, how
// many attempts and when the next one is due. `socklb service list` runs in another process
// and reads the maps; it reads this too, from a small JSON file the agent rewrites after every
// sync and retry pass whose failures changed, atomically (a new file renamed over the old).
// Why a file and not an endpoint: service list then needs nothing but --bpffs (no address to
// know, no ops server to enable), and bpffs holds only BPF objects. The file lives under
// /run/socklb/status (tmpfs: gone on reboot, as the maps are), named after the bpffs directory, so
// agents on different directories (tests, labs) never share one.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { FailureReason, FrontendFailure } from '../datapath/retry-queue.js';
import { processAlive } from '../process-alive.js';

export const STATUS_DIR = '/run/socklb/status';

/** A frontend that is not as desired, as the agent last saw it. */
export interface FrontendStatus {
  /** Its frontend id ("address|port|PROTOCOL"). */
  frontend: string;
  owner: string;
  reason: FailureReason;
  attempts: number;
  lastError: string;
  /** When it is tried again (ms since the epoch); null: not until its input changes. */
  retryAt: number | null;
  /** Whether the agent is removing it (no longer desired) rather than writing it. */
  removal: boolean;
}

export interface AgentStatus {
  bpffs: string;
  pid: number;
  /** ms since the epoch. */
  updatedAt: number;
  failing: FrontendStatus[];
}

export function statusFilePath(bpffs: string, dir = STATUS_DIR): string {
  const path = resolve(bpffs);
  return join(dir, `${createHash('sha256').update(path).digest('hex').slice(0, 16)}.json`);
}

export class StatusFile {
  private last: string | undefined;
  readonly path: string;

  constructor(
    private readonly bpffs: string,
    dir = STATUS_DIR,
  ) {
    this.path = statusFilePath(bpffs, dir);
  }

  /** Writes the failures if they differ from what the file holds. Throws what the file system
   * says (the caller logs it: a status that cannot be written does not stop the syncs). */
  publish(failures: readonly FrontendFailure[]): void {
    const failing: FrontendStatus[] = failures.map((f) => ({
      frontend: f.frontend,
      owner: f.owner,
      reason: f.reason,
      attempts: f.attempts,
      lastError: f.message,
      retryAt: f.retryAt ?? null,
      removal: f.want === undefined,
    }));
    const text = JSON.stringify(failing);
    if (text === this.last) return;
    const status: AgentStatus = { bpffs: resolve(this.bpffs), pid: process.pid, updatedAt: Date.now(), failing };
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(status)}\n`);
    renameSync(tmp, this.path);
    this.last = text;
  }

  /** Removes the file: a stopped agent retries nothing, so what it said no longer holds. */
  remove(): void {
    rmSync(this.path, { force: true });
    this.last = undefined;
  }
}

/** What the agent on `bpffs` published, or undefined when no agent runs there (no file, or its
 * writer is gone: a killed agent cannot remove its file). */
export function readAgentStatus(bpffs: string, dir = STATUS_DIR): AgentStatus | undefined {
  let text: string;
  try {
    text = readFileSync(statusFilePath(bpffs, dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the agent's status ${statusFilePath(bpffs, dir)}: ${(err as Error).message}`);
  }
  const status = JSON.parse(text) as AgentStatus;
  return processAlive(status.pid) ? status : undefined;
}

/** Removes status files whose writer is gone or whose bpffs directory no longer exists (agents
 * killed with their lab); readAgentStatus ignores them anyway, this keeps /run tidy. */
export function removeStaleStatusFiles(dir = STATUS_DIR): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const path = join(dir, name);
    try {
      const status = JSON.parse(readFileSync(path, 'utf8')) as AgentStatus;
      if (existsSync(status.bpffs) && processAlive(status.pid)) continue;
    } catch {
      // unreadable: not a status this version wrote
    }
    rmSync(path, { force: true });
    removed.push(path);
  }
  return removed;
}
