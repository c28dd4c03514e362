// The agent: installs (or adopts) the datapath, then keeps the maps equal to the services
// file, applying each change within a fraction of a second. Stopping it leaves the datapath
// attached and working; `socklb uninstall` is what removes it.
import { installSockDatapath } from '../datapath/sock-datapath.js';
import { Reconciler } from '../datapath/reconciler.js';
import { desiredServices } from '../model/service-frontends.js';
import { formatProblem } from '../model/problems.js';
import { watchFile } from '../source/file-watch.js';
import { readServicesFile, ServicesFileError } from '../source/services-file.js';
import type { Logger } from './logger.js';

export interface AgentOptions {
  services: string;
  bpffs: string;
  cgroup: string;
}

export interface Agent {
  /** Reads the file and reconciles now; also what every file change triggers. */
  sync(): void;
  /** The datapath's event counters (translations, refusals, reverse translations). */
  counters(): Record<string, bigint>;
  stop(): void;
}

// 20 ms coalesces the burst of events one save makes; the 500 ms poll catches changes
// inotify misses (network filesystems, some bind mounts). Both keep a change under 200 ms
// on a local filesystem.
const WATCH = { debounceMs: 20, pollMs: 500 };

export function startAgent(opts: AgentOptions, log: Logger): Agent {
  const datapath = installSockDatapath({ bpffs: opts.bpffs, cgroup: opts.cgroup });
  log.info({ bpffs: opts.bpffs, cgroup: opts.cgroup, programs: datapath.attached }, 'datapath installed');
  let reconciler: Reconciler;
  try {
    reconciler = Reconciler.adopt(datapath.maps);
  } catch (err) {
    datapath.close();
    throw err;
  }
  log.info(reconciler.size, 'adopted the pinned maps');

  let lastProblems = '';
  const sync = (): void => {
    const started = process.hrtime.bigint();
    let content;
    try {
      content = readServicesFile(opts.services);
    } catch (err) {
      if (!(err instanceof ServicesFileError)) throw err;
      log.error({ file: opts.services, err: err.message }, 'services file not applied; the datapath keeps the last applied state until the file is fixed');
      return;
    }
    const desired = desiredServices(content.services, content.slices);
    // Problems are logged when they change, not on every sync of an unchanged file.
    const problems = desired.problems.map(formatProblem).join('\n');
    if (problems !== lastProblems) {
      for (const p of desired.problems) log.warn({ object: p.object, field: p.field }, formatProblem(p));
      lastProblems = problems;
    }
    const report = reconciler.apply(desired.services);
    for (const e of report.errors) log.error({ service: e.owner, frontend: e.frontend }, `service not programmed: ${e.message}`);
    const { errors, ...counts } = report;
    log.info(
      { ...counts, errors: errors.length, frontends: reconciler.size.frontends, backends: reconciler.size.backends, durationMs: Number(process.hrtime.bigint() - started) / 1e6 },
      'synced',
    );
  };

  const unwatch = watchFile(
    opts.services,
    () => {
      try {
        sync();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'sync failed; will retry on the next change');
      }
    },
    WATCH,
  );
  try {
    sync();
  } catch (err) {
    unwatch();
    datapath.close();
    throw err;
  }
  return {
    sync,
    counters: () => datapath.maps.counters(),
    stop() {
      unwatch();
      datapath.close();
      log.info({ bpffs: opts.bpffs }, 'agent stopped; the datapath stays attached (socklb uninstall removes it)');
    },
  };
}
