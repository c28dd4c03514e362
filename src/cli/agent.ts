// The agent: installs (or adopts) the datapath, then keeps the maps equal to what its source
// says (a services file or the API server), coalescing bursts of changes into one sync, and
// retries what failed until it succeeds. Stopping it leaves the datapath attached and working;
// `socklb uninstall` removes it, and a running agent then stops being ready (datapath-watch.ts).
import type { Server } from 'node:http';
import { MAP_CAPACITY, WRITTEN_MAPS } from '../datapath/datapath-maps.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, SYSTEM_TIMING } from '../datapath/retry-queue.js';
import { installMode, type DatapathMode } from '../datapath/datapath-mode.js';
import { StatusFile } from './agent-status.js';
import { startConntrackWork } from './conntrack-work.js';
import { watchDatapath } from './datapath-watch.js';
import { startRetryTimer } from './retry-timer.js';
import { formatProblem } from '../model/problems.js';
import { isFullUpdate, mergeUpdates } from '../model/desired-tables.js';
import { ReconcileSteps } from '../datapath/reconcile-steps.js';
import { emptyReport } from '../datapath/reconciler.js';
import { servicesStep } from '../datapath/services-step.js';
import type { DesiredSource, SourceUpdate } from '../source/desired-source.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { startOpsServer } from './ops-server.js';
import { startUdpSocketWork } from './udp-socket-work.js';

export interface AgentOptions {
  bpffs: string;
  cgroup: string;
  /** socket (default) or conntrack; see datapath-mode.ts. */
  mode?: DatapathMode;
  /** conntrack mode: name patterns of the pods' host-side interfaces. */
  podInterfaces?: readonly string[];
  /** conntrack mode: how often new pod interfaces are looked for, and expired flows collected. */
  interfaceScanMs?: number;
  conntrackGcMs?: number;
  /** How often the agent checks that its links and maps are still in place (default 1 s). */
  datapathCheckMs?: number;
  source: DesiredSource;
  /** host:port for /healthz, /readyz and /metrics; undefined: no server. */
  opsAddress?: string | undefined;
  /** Where the frontends' status is published for `socklb service list` (default /run/socklb/status). */
  statusDir?: string;
  /** Extra metric families (watch restarts, say) from the source. */
  extraMetrics?: (metrics: Metrics) => void;
}

export interface Agent {
  /** The datapath's event counters (translations, refusals, reverse translations). */
  counters(): Record<string, bigint>;
  /** True once the first full sync is in the maps, while the datapath is in place. */
  ready(): boolean;
  /** The bound host:port of the ops server, once listening. */
  opsAddress: Promise<string | undefined>;
  stop(): Promise<void>;
}

export function startAgent(opts: AgentOptions, log: Logger): Agent {
  const datapath = installMode({ mode: opts.mode ?? 'socket', bpffs: opts.bpffs, cgroup: opts.cgroup, podInterfaces: opts.podInterfaces ?? [] });
  log.info({ mode: datapath.mode, bpffs: opts.bpffs, ...datapath.summary }, 'datapath installed');
  const reconciler = datapath.reconciler;
  log.info(reconciler.size, 'adopted the pinned maps');
  // One step per kind of desired object; a new kind registers its own here.
  const steps = new ReconcileSteps();
  const services = steps.register(servicesStep(reconciler));

  const metrics = new Metrics();
  metrics.register({
    name: 'socklb_programmed',
    help: 'Frontends (VIP, port, protocol) and backends in the maps.',
    type: 'gauge',
    read: () => [
      { labels: { kind: 'frontends' }, value: reconciler.size.frontends },
      { labels: { kind: 'backends' }, value: reconciler.size.backends },
    ],
  });
  metrics.register({
    name: 'socklb_map_entries',
    help: 'Entries in each map the agent writes, next to socklb_map_capacity.',
    type: 'gauge',
    read: () => {
      const entries = reconciler.mapEntries();
      return WRITTEN_MAPS.map((map) => ({ labels: { map }, value: entries[map] }));
    },
  });
  metrics.register({
    name: 'socklb_map_capacity',
    help: 'max_entries of each map the agent writes.',
    type: 'gauge',
    read: () => WRITTEN_MAPS.map((map) => ({ labels: { map }, value: MAP_CAPACITY[map] })),
  });
  metrics.register({
    name: 'socklb_datapath_events_total',
    help: 'Datapath events counted by the BPF programs.',
    type: 'counter',
    read: () => Object.entries(datapath.maps.counters()).map(([event, value]) => ({ labels: { event }, value })),
  });
  metrics.register({
    name: 'socklb_process_memory_bytes',
    help: 'Memory of the agent process: resident set and V8 heap.',
    type: 'gauge',
    read: () => {
      const m = process.memoryUsage();
      return [
        { labels: { kind: 'rss' }, value: m.rss },
        { labels: { kind: 'heap_used' }, value: m.heapUsed },
        { labels: { kind: 'heap_total' }, value: m.heapTotal },
        { labels: { kind: 'external' }, value: m.external + m.arrayBuffers },
      ];
    },
  });
  const watch = watchDatapath(datapath, opts.bpffs, opts.datapathCheckMs ?? 1000, metrics, log);
  const udpSocketWork = datapath.udp && startUdpSocketWork(datapath.udp, () => datapath.maps.counters(), metrics, log);
  const status = new StatusFile(opts.bpffs, opts.statusDir);
  let statusError: string | undefined;
  /** Publishes the frontends not as desired; logged once per distinct error, the syncs go on. */
  const publishStatus = (): void => {
    try {
      status.publish(reconciler.failures());
      statusError = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== statusError) log.warn({ file: status.path, err: message }, 'frontend status not published: socklb service list shows no status; check that the directory is writable');
      statusError = message;
    }
  };
  const retries = startRetryTimer(reconciler, SYSTEM_TIMING.now, watch.installed, metrics, log, (r) => {
    udpSocketWork?.afterSync(r.departedUdp);
    publishStatus();
  });
  const stopConntrackWork = datapath.ct ? startConntrackWork(datapath, opts, watch.checkNow, metrics, log) : () => undefined;
  opts.extraMetrics?.(metrics);

  let synced = false;
  let lastProblems: readonly unknown[] = [];
  let lastProblemsText = '';
  /** An update taken from the source and not yet applied: a sync that throws keeps it, and
   * the next sync applies it with whatever came since, so no delta is lost. */
  let held: SourceUpdate | undefined;
  const sync = (): void => {
    // Without the datapath nothing reads the maps; the source keeps its changes meanwhile.
    if (!watch.installed() || !opts.source.ready()) return;
    const started = process.hrtime.bigint();
    const taken = opts.source.take();
    const update = held && taken ? mergeUpdates(held, taken) : (taken ?? held);
    if (!update) return;
    held = update;
    const applied = steps.apply(update);
    held = undefined;
    const kind = isFullUpdate(update) ? 'full' : 'delta';
    const report = applied.reportOf(services) ?? emptyReport();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.observeSync(seconds, applied.errors());
    // Problems are logged when they change, not on every sync.
    const problems = opts.source.problems();
    if (problems !== lastProblems) {
      lastProblems = problems;
      const text = problems.map(formatProblem).join('\n');
      if (text !== lastProblemsText) for (const p of problems) log.warn({ object: p.object, field: p.field }, formatProblem(p));
      lastProblemsText = text;
    }
    for (const e of report.errors) log.error({ service: e.owner, frontend: e.frontend, reason: e.reason }, `service not programmed: ${e.message}`);
    const { errors, departedUdp, ...counts } = report;
    log.info({ kind, ...counts, errors: errors.length, ...reconciler.size, durationMs: seconds * 1000 }, 'synced');
    udpSocketWork?.afterSync(departedUdp);
    publishStatus();
    if (!synced && kind === 'full') {
      synced = true;
      const since = opts.source.completeSince?.();
      log.info(since === undefined ? {} : { msSinceInputComplete: Date.now() - since }, 'ready: the first full sync is in the maps');
    }
  };

  // Bursts of events (a relist, a rollout) arrive within one turn of the event loop; one sync
  // after the turn applies them all.
  let scheduled = false;
  let syncThrows = 0;
  let syncRetry: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      try {
        sync();
        syncThrows = 0;
      } catch (err) {
        const retryInMs = backoffDelayMs(DEFAULT_RETRY_POLICY, ++syncThrows, Math.random());
        log.error({ err: (err as Error).message, retryInMs }, 'sync failed; its input is kept and applied again');
        clearTimeout(syncRetry);
        syncRetry = setTimeout(schedule, retryInMs).unref();
      }
      retries.arm();
    });
  };

  function notReady(): string | undefined {
    if (!watch.installed()) return `the datapath is gone (${watch.missing().join('; ')}); restart the agent to install it again`;
    return synced ? undefined : 'the first full sync is not in the maps yet';
  }

  let server: Server | undefined;
  const opsAddress = opts.opsAddress
    ? startOpsServer(opts.opsAddress, { notReady, metrics: () => metrics.render() }).then(
        (s) => {
          server = s.server;
          log.info({ address: s.address }, 'serving /healthz, /readyz and /metrics');
          return s.address;
        },
        (err: Error) => {
          log.error({ err: err.message }, 'health and metrics are not served');
          return undefined;
        },
      )
    : Promise.resolve(undefined);

  try {
    opts.source.start(schedule);
  } catch (err) {
    stopTimers();
    datapath.close();
    throw err;
  }
  function stopTimers(): void {
    stopConntrackWork();
    watch.stop();
    retries.stop();
    clearTimeout(syncRetry);
  }
  return {
    counters: () => datapath.maps.counters(),
    ready: () => notReady() === undefined,
    opsAddress,
    async stop() {
      opts.source.stop();
      stopTimers();
      await opsAddress;
      // Idle keep-alive connections (a scraper, a probe) would hold close() open.
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      datapath.close();
      status.remove();
      log.info({ bpffs: opts.bpffs }, 'agent stopped; the datapath stays attached (socklb uninstall removes it)');
    },
  };
}
