// The agent: installs (or adopts) the datapath, then keeps the maps equal to what its source
// says (a services file or the API server), coalescing bursts of changes into one sync, and
// retries what failed until it succeeds. Stopping it leaves the datapath attached and working;
// `socklb uninstall` removes it, and a running agent then stops being ready (datapath-watch.ts).
// What it works with is passed in (AgentDeps), so a test can give it maps that fail, a source
// that throws and a clock it moves, and watch it converge.
import type { Server } from 'node:http';
import { installDatapath, type Datapath } from '../datapath/datapath.js';
import { modeComponents, type DatapathMode } from '../datapath/datapath-mode.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY } from '../datapath/retry-queue.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from './agent-clock.js';
import { registerAgentMetrics } from './agent-metrics.js';
import type { ReconcileReport, ServiceError } from '../datapath/reconciler.js';
import { startConntrackWork } from './conntrack-work.js';
import { watchDatapath } from './datapath-watch.js';
import { startRetryTimer } from './retry-timer.js';
import { formatProblem } from '../model/problems.js';
import { isFullUpdate, mergeUpdates, tableOf } from '../model/desired-tables.js';
import { SERVICES } from '../model/desired-services.js';
import { startHealthCheckServers } from './health-check-server.js';
import { ReconcileSteps } from '../datapath/reconcile-steps.js';
import { emptyReport } from '../datapath/reconciler.js';
import { servicesStep } from '../datapath/services-step.js';
import { policyInputSteps } from '../datapath/policy-inputs-step.js';
import { PolicyInputs } from '../model/policy-inputs.js';
import type { DesiredSource, SourceUpdate } from '../source/desired-source.js';
import { StatusFile } from './agent-status.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { startOpsServer } from './ops-server.js';
import { startUdpSocketWork } from './udp-socket-work.js';
import { startPolicyWork } from './policy-work.js';
import { podInterfaceOf } from '../datapath/pod-interface-of.js';
import { listLinks } from '../bpf/rtnetlink.js';
import { scanPodNamespaces } from '../datapath/pod-namespaces.js';
import { localInterfaceAddresses } from '../source/local-addresses.js';
import type { Cidr } from '../net/cidr.js';

export interface AgentOptions {
  bpffs: string;
  cgroup: string;
  /** socket (default) or conntrack; see datapath-mode.ts. */
  mode?: DatapathMode;
  /** conntrack mode and NetworkPolicy: name patterns of the pods' host-side interfaces. */
  podInterfaces?: readonly string[];
  /** Name patterns of the node's external devices: NodeTc translates north-south connections
   * arriving from outside the node there (tc_node.bpf.c); unset: no NodeTc. */
  nodeDevices?: readonly string[];
  /** The network namespace (file) those devices are in; default the agent's own (the demo's
   * in-process agent runs outside its lab's node namespace). */
  nodeNetns?: string;
  /** Enforce NetworkPolicy for this node's pods (socket mode); needs nodeName. */
  networkPolicy?: boolean;
  /** --service-cidrs: the socket hooks look cluster IPs up faster (service_ranges_map.h). */
  serviceCidrs?: readonly Cidr[];
  /** This node's name (spec.nodeName of its pods). */
  nodeName?: string;
  /** How often new pod interfaces (and with NetworkPolicy pods' network namespaces) are looked for, and expired flows collected. */
  interfaceScanMs?: number;
  conntrackGcMs?: number;
  /** How often the agent checks that its links and maps are still in place (default 1 s). */
  datapathCheckMs?: number;
  /** host:port for /healthz, /readyz and /metrics; undefined: no server. */
  opsAddress?: string | undefined;
  /** Where the frontends' status is published for `socklb service list` (default /run/socklb/status). */
  statusDir?: string;
  /** Extra metric families (watch restarts, say) from the source. */
  extraMetrics?: (metrics: Metrics) => void;
}

/** What the agent works with. Only log and source are required; the rest default to the real thing. */
export interface AgentDeps {
  log: Logger;
  source: DesiredSource;
  /** The installed datapath (its maps, components and reconciler); default: installed from the options. */
  datapath?: Datapath;
  clock?: Clock;
  /** In [0, 1): backoff jitter. */
  random?: () => number;
  metrics?: Metrics;
}

export interface Agent {
  /** The datapath's event counters (translations, refusals, reverse translations). */
  counters(): Record<string, bigint>;
  /** True once the first full sync is in the maps, while the datapath is in place. */
  ready(): boolean;
  /** The bound host:port of the ops server, once listening. */
  opsAddress: Promise<string | undefined>;
  /** The Pods, Namespaces and NetworkPolicies the source delivered, decoded. */
  policyInputs: PolicyInputs;
  stop(): Promise<void>;
}

/** Frontends whose failure a sync logs one line each; the rest go in one summary line, so a
 * sync that fails thousands of frontends (a full map) logs a screenful, not thousands of lines. */
const ERROR_LINES_PER_SYNC = 20;

function logServiceErrors(errors: readonly ServiceError[], log: Logger): void {
  for (const e of errors.slice(0, ERROR_LINES_PER_SYNC)) log.error({ service: e.owner, frontend: e.frontend, reason: e.reason }, `service not programmed: ${e.message}`);
  if (errors.length <= ERROR_LINES_PER_SYNC) return;
  const byReason: Record<string, number> = {};
  for (const e of errors.slice(ERROR_LINES_PER_SYNC)) byReason[e.reason] = (byReason[e.reason] ?? 0) + 1;
  log.error({ more: errors.length - ERROR_LINES_PER_SYNC, byReason }, 'more services not programmed; they are retried (socklb_frontends_failing counts them)');
}

export function startAgent(opts: AgentOptions, deps: AgentDeps): Agent {
  const { log, source } = deps;
  const clock = deps.clock ?? SYSTEM_CLOCK;
  const random = deps.random ?? Math.random;
  const mode = opts.mode ?? 'socket';
  if (opts.networkPolicy && !opts.nodeName) throw new Error('--network-policy needs --node-name (NODE_NAME): the policy is enforced for the pods of this node');
  const datapath =
    deps.datapath ??
    installDatapath({
      bpffs: opts.bpffs,
      components: modeComponents(mode, {
        cgroup: opts.cgroup,
        podInterfaces: opts.podInterfaces ?? [],
        networkPolicy: opts.networkPolicy,
        serviceCidrs: opts.serviceCidrs,
        nodeDevices: opts.nodeDevices,
        nodeNetns: opts.nodeNetns,
      }),
      timing: { now: () => clock.now(), random },
    });
  log.info({ mode, bpffs: opts.bpffs, ...datapath.summary }, 'datapath installed');
  const reconciler = datapath.reconciler;
  log.info(reconciler.size, 'adopted the pinned maps');
  // One step per kind of desired object; a new kind registers its own here.
  const steps = new ReconcileSteps();
  const services = steps.register(servicesStep(reconciler));
  const policyInputs = new PolicyInputs();
  for (const step of policyInputSteps(policyInputs)) steps.register(step);
  const podNamespaces = datapath.podNetns && { maps: datapath.podNetns, scan: () => scanPodNamespaces(opts.cgroup), intervalMs: opts.interfaceScanMs ?? 2000 };
  const attach = datapath.attachPodInterface;
  const podInterfaces = attach && {
    attach,
    finder: () => {
      const links = listLinks();
      return (ip: string) => podInterfaceOf(ip, links);
    },
  };
  const metrics = deps.metrics ?? new Metrics();
  const policyWork =
    datapath.policy && opts.nodeName
      ? startPolicyWork(datapath.policy, policyInputs, { name: opts.nodeName, addresses: localInterfaceAddresses }, clock, random, log, metrics, () => datapath.maps.counters(), podNamespaces, podInterfaces)
      : undefined;

  registerAgentMetrics(metrics, reconciler, () => datapath.maps.counters());
  const watch = watchDatapath(datapath, opts.bpffs, opts.datapathCheckMs ?? 1000, clock, metrics, log);
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
      if (message !== statusError)
        log.warn({ file: status.path, err: message }, 'frontend status not published: socklb service list shows no status; check that the directory is writable');
      statusError = message;
    }
  };
  /** What follows every write of the maps, a sync's or a retry pass's: sockets on departed UDP
   * backends destroyed, the status published, a pending upgrade finished once the maps are full. */
  const afterWrites = (report: ReconcileReport): void => {
    udpSocketWork?.afterSync(report.departedUdp);
    publishStatus();
    finishUpgradeWhenFilled();
  };
  const retries = startRetryTimer(reconciler, clock, random, watch.installed, metrics, log, afterWrites);
  const stopConntrackWork = datapath.flowTables.length > 0 ? startConntrackWork(datapath, opts, watch.checkNow, clock, metrics, log) : () => undefined;
  // Load balancers' health checks of externalTrafficPolicy Local services: only where NodeTc
  // serves their traffic from outside (the services' local-scope twins exist only then), and
  // only from the node's own network namespace (not the demo's agent, which runs outside it).
  const nodeTcRuns = datapath.components.some((c) => c.name === 'node-tc');
  const healthChecks = nodeTcRuns && !opts.nodeNetns ? startHealthCheckServers(() => watch.installed(), log) : undefined;
  opts.extraMetrics?.(metrics);

  let synced = false;
  let fullSyncs = 0;
  /** After an upgrade that changed a layout, the old programs serve until the new maps hold the
   * whole desired state (a full sync, nothing failing); then one swap per hook moves them over. */
  const finishUpgradeWhenFilled = (): void => {
    if (datapath.upgradingFrom.length === 0 || fullSyncs === 0 || reconciler.failures().length > 0) return;
    log.info(datapath.finishUpgrade(), 'upgraded: the programs run on the new maps, the old pins are removed');
  };
  let lastProblems: readonly unknown[] = [];
  let lastProblemsText = '';
  /** An update taken from the source and not yet applied: a sync that throws keeps it, and
   * the next sync applies it with whatever came since, so no delta is lost. */
  let held: SourceUpdate | undefined;
  const sync = (): void => {
    // Without the datapath nothing reads the maps; the source keeps its changes meanwhile.
    if (!watch.installed() || !source.ready()) return;
    const started = process.hrtime.bigint();
    const taken = source.take();
    const update = held && taken ? mergeUpdates(held, taken) : (taken ?? held);
    if (!update) return;
    held = update;
    const applied = steps.apply(update);
    held = undefined;
    const servicesTable = healthChecks && tableOf(update, SERVICES);
    if (servicesTable) healthChecks!.apply(servicesTable);
    policyWork?.afterSync();
    const kind = isFullUpdate(update) ? 'full' : 'delta';
    const report = applied.reportOf(services) ?? emptyReport();
    if (kind === 'full') fullSyncs++;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.observeSync(seconds, applied.errors());
    // Problems are logged when they change, not on every sync.
    const problems = source.problems();
    if (problems !== lastProblems) {
      lastProblems = problems;
      const text = problems.map(formatProblem).join('\n');
      if (text !== lastProblemsText) for (const p of problems) log.warn({ object: p.object, field: p.field }, formatProblem(p));
      lastProblemsText = text;
    }
    logServiceErrors(report.errors, log);
    const { errors, departedUdp: _departed, ...counts } = report; // the log line gets counts, not the pairs
    const stored = { pods: policyInputs.pods.size, namespaces: policyInputs.namespaces.size, networkPolicies: policyInputs.policies.size };
    log.info({ kind, ...counts, errors: errors.length, ...reconciler.size, ...stored, durationMs: seconds * 1000 }, 'synced');
    afterWrites(report);
    if (!synced && kind === 'full') {
      synced = true;
      const since = source.completeSince?.();
      log.info(since === undefined ? {} : { msSinceInputComplete: clock.now() - since }, 'ready: the first full sync is in the maps');
    }
  };

  // Bursts of events (a relist, a rollout) arrive within one turn of the event loop; one sync
  // after the turn applies them all.
  let scheduled = false;
  let syncThrows = 0;
  let syncRetry: ClockTimer | undefined;
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    clock.setTimeout(() => {
      scheduled = false;
      try {
        sync();
        syncThrows = 0;
      } catch (err) {
        const retryInMs = backoffDelayMs(DEFAULT_RETRY_POLICY, ++syncThrows, random());
        log.error({ err: (err as Error).message, retryInMs }, 'sync failed; its input is kept and applied again');
        syncRetry?.cancel();
        syncRetry = clock.setTimeout(schedule, retryInMs);
      }
      retries.arm();
    }, 0);
  };

  function notReady(): string | undefined {
    if (!watch.installed()) return `the datapath is gone (${watch.missing().join('; ')}); restart the agent to install it again`;
    if (datapath.upgradingFrom.length > 0)
      return `upgrading: the programs of the previous socklb run until the new maps hold every service (old pins ${datapath.upgradingFrom.join(', ')})`;
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
    source.start(schedule);
  } catch (err) {
    stopTimers();
    datapath.close();
    throw err;
  }
  function stopTimers(): void {
    stopConntrackWork();
    policyWork?.stop();
    watch.stop();
    retries.stop();
    syncRetry?.cancel();
  }
  return {
    counters: () => datapath.maps.counters(),
    ready: () => notReady() === undefined,
    opsAddress,
    policyInputs,
    async stop() {
      source.stop();
      stopTimers();
      await opsAddress;
      // Idle keep-alive connections (a scraper, a probe) would hold close() open.
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await healthChecks?.close();
      datapath.close();
      status.remove();
      log.info({ bpffs: opts.bpffs }, 'agent stopped; the datapath stays attached (socklb uninstall removes it)');
    },
  };
}
