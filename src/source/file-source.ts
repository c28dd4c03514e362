// The services file as a desired-state source: each change re-reads the file and yields the
// whole desired state; a file that cannot be parsed yields nothing, so the datapath keeps the
// last applied state until the file is fixed.
import type { Logger } from 'pino';
import { desiredServices } from '../model/service-index.js';
import type { Problem } from '../model/problems.js';
import type { DesiredSource, SourceUpdate } from './desired-source.js';
import { watchFile } from './file-watch.js';
import { readServicesFile, ServicesFileError } from './services-file.js';

// A change is read once the file held still for 40 ms (two looks 40 ms apart), which
// coalesces the events of one save and skips half-written files; the 500 ms poll catches
// changes inotify misses (network filesystems, some bind mounts). A change lands in the maps
// about 100 ms after the write.
const WATCH = { debounceMs: 40, pollMs: 500 };

export class FileSource implements DesiredSource {
  private unwatch: (() => void) | undefined;
  private lastProblems: Problem[] = [];
  private pending = true;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  start(onChange: () => void): void {
    // The watch starts before the first read, so no change can fall between the two.
    this.unwatch = watchFile(
      this.path,
      () => {
        this.pending = true;
        onChange();
      },
      WATCH,
    );
    onChange();
  }

  stop(): void {
    this.unwatch?.();
  }

  ready(): boolean {
    return true;
  }

  take(): SourceUpdate | undefined {
    if (!this.pending) return undefined;
    this.pending = false;
    try {
      const content = readServicesFile(this.path);
      const desired = desiredServices(content.services, content.slices);
      this.lastProblems = desired.problems;
      return { kind: 'full', services: desired.services };
    } catch (err) {
      if (!(err instanceof ServicesFileError)) throw err;
      this.log.error({ file: this.path, err: err.message }, 'services file not applied; the datapath keeps the last applied state until the file is fixed');
      return undefined;
    }
  }

  problems(): Problem[] {
    return this.lastProblems;
  }
}
