// The agent CLI as a child process, with its JSON log lines parsed as they arrive, for the
// tests and the benchmarks that run the real agent.
import type { ChildProcess } from 'node:child_process';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class AgentProcess {
  readonly logs: LogLine[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) {
        try {
          this.logs.push(JSON.parse(l) as LogLine);
        } catch {
          this.logs.push({ level: 50, msg: l });
        }
      }
      for (const w of this.waiters) w();
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        if (stderr) this.logs.push({ level: 50, msg: `stderr: ${stderr}` });
        for (const w of this.waiters) w();
        resolve(code);
      }),
    );
  }

  /** Waits for a log line matching the predicate, searching from index `from`. */
  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 10_000, from = 0): Promise<LogLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.slice(from).find(pred);
      if (hit) return hit;
      if (this.child.exitCode !== null) throw new Error(`agent exited (${this.child.exitCode}): ${JSON.stringify(this.logs.slice(-5))}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no matching agent log within ${timeoutMs} ms; last: ${JSON.stringify(this.logs.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  /** Waits for the next "synced" log line after the ones seen so far. */
  nextSync(timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'synced', timeoutMs, this.logs.length);
  }

  /** Ends the agent by its PID and waits for it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}
