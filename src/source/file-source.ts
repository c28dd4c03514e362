// The services file as a desired-state source: each change re-reads the file and yields the
// whole desired state; a file that cannot be parsed, is empty, looks cut off or is still open
// for writing yields nothing, so the datapath keeps the last applied state until the file is
// whole again.
import type { Logger } from 'pino';
import { SERVICES } from '../model/desired-services.js';
import { fullTable } from '../model/desired-tables.js';
import type { NodeContext } from '../model/endpoint-selection.js';
import { desiredServices, type IndexOptions } from '../model/service-index.js';
import { PolicyInputFeed } from '../model/policy-input-feed.js';
import type { Problem } from '../model/problems.js';
import type { DesiredSource, SourceUpdate } from './desired-source.js';
import { findFileWriter } from './file-writers.js';
import { watchFile } from './file-watch.js';
import { localInterfaceAddresses } from './local-addresses.js';
import { readServicesFile, ServicesFileError } from './services-file.js';

// A change is read once the file held still for 40 ms (two looks 40 ms apart), which
// coalesces the events of one save; the 500 ms poll catches changes inotify misses (network
// filesystems, some bind mounts). A change lands in the maps about 100 ms after the write.
const WATCH = { debounceMs: 40, pollMs: 500 };
/** How often a file still open for writing is looked at again. */
const WRITER_RECHECK_MS = 100;

export interface FileSourceOptions extends IndexOptions {
  /** --node-name: for internalTrafficPolicy Local (and topology hints, which need a zone a file cannot give). */
  nodeName?: string | undefined;
  /** This node's own addresses; default: the interfaces of the agent's network namespace. */
  localAddresses?: () => string[];
}

export class FileSource implements DesiredSource {
  private unwatch: (() => void) | undefined;
  private lastProblems: Problem[] = [];
  private pending = true;
  private onChange: () => void = () => undefined;
  private writerTimer: NodeJS.Timeout | undefined;
  /** The writer last reported, so a long write is logged once, not every recheck. */
  private reportedWriter: number | undefined;
  private readonly node: NodeContext;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly options: FileSourceOptions = {},
  ) {
    this.node = { name: options.nodeName };
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
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
    if (this.writerTimer) clearTimeout(this.writerTimer);
  }

  ready(): boolean {
    return true;
  }

  take(): SourceUpdate | undefined {
    if (!this.pending) return undefined;
    const writer = findFileWriter(this.path);
    if (writer) {
      if (this.reportedWriter !== writer.pid) {
        this.reportedWriter = writer.pid;
        this.log.info({ file: this.path, writerPid: writer.pid, writer: writer.command }, 'services file is still open for writing; it is applied once its writer closes it');
      }
      this.writerTimer ??= setTimeout(() => {
        this.writerTimer = undefined;
        this.onChange();
      }, WRITER_RECHECK_MS);
      return undefined;
    }
    this.reportedWriter = undefined;
    try {
      const content = readServicesFile(this.path);
      for (const kind of content.ignoredKinds) this.log.debug({ file: this.path, kind }, 'objects of this kind are not read; skipped');
      const localAddresses = (this.options.localAddresses ?? localInterfaceAddresses)();
      // A new feed per read: its first take is whole tables, as the file is the whole state.
      const policyInputs = new PolicyInputFeed();
      const podRows = content.pods.map((p) => policyInputs.upsertPod(p)).filter((p) => p !== undefined);
      for (const ns of content.namespaces) policyInputs.upsertNamespace(ns);
      for (const np of content.policies) policyInputs.upsertPolicy(np);
      const desired = desiredServices(content.services, content.slices, this.node, this.options, { podRows, nodes: content.nodes, localAddresses });
      this.lastProblems = [...content.problems, ...desired.problems, ...policyInputs.problems()];
      // Only now is the change taken: an unexpected error above leaves it pending, so the
      // agent's retry of the sync reads the file again.
      this.pending = false;
      return { tables: [fullTable(SERVICES, desired.services), ...policyInputs.take()] };
    } catch (err) {
      if (!(err instanceof ServicesFileError)) throw err;
      this.pending = false; // the file as it is now is not usable; the next change is read
      this.log.error({ file: this.path, err: err.message }, 'services file not applied; the datapath keeps the last applied state until the file is fixed');
      return undefined;
    }
  }

  problems(): Problem[] {
    return this.lastProblems;
  }
}
