// Calls back soon after a file changes. Watches the directory rather than the file, because
// editors and `kubectl ... > file` replace files by rename, which ends a watch on the old inode;
// a slow poll backs the watch up on filesystems where inotify misses changes. A file written
// in place (`> file` truncates, then writes as output comes) is only reported once it has
// stopped changing for one quiet interval, so a half-written file is not taken for the new one.
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatchOptions {
  /** The quiet interval: a change is reported once the file stayed the same this long. */
  debounceMs: number;
  pollMs: number;
}

function fingerprint(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return 'missing';
  }
}

/** Start this before the first read of the file: a change made between that read and the
 * start of the watch would otherwise never be seen. A change at any time after the call
 * leads to a callback; a spurious one only costs an idempotent re-read. */
export function watchFile(path: string, onChange: () => void, opts: FileWatchOptions): () => void {
  let last = fingerprint(path);
  let settling: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    timer = undefined;
    const now = fingerprint(path);
    if (now === last) {
      settling = undefined;
      return;
    }
    if (now !== settling) {
      // Changed since the last look: wait for it to hold still for one more interval.
      settling = now;
      timer = setTimeout(check, opts.debounceMs);
      return;
    }
    settling = undefined;
    last = now;
    onChange();
  };
  const schedule = (): void => {
    timer ??= setTimeout(check, opts.debounceMs);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === basename(path)) schedule();
    });
  } catch {
    watcher = undefined; // the poll below still notices changes
  }
  const poll = setInterval(schedule, opts.pollMs);
  poll.unref();
  return () => {
    watcher?.close();
    clearInterval(poll);
    if (timer) clearTimeout(timer);
  };
}
