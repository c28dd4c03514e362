// Runs a system command for the lab and says which one failed and what it printed.
import { execFileSync } from 'node:child_process';

export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 2 ** 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** For clean-up: tries, and reports failure instead of throwing, so one failure does not stop the rest. */
export function tryRun(cmd: string, args: readonly string[]): string | undefined {
  try {
    run(cmd, args);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
