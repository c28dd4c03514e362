#!/usr/bin/env node
// socklb's command line. Each verb is a thin shell over the layers below; process concerns
// (flags, signals, exit codes, logs) live here and nowhere else.
import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import { findCgroup2Root } from '../bpf/kernel-env.js';
import { DEFAULT_BPFFS, uninstallSockDatapath } from '../datapath/sock-datapath.js';
import { DATAPATH_MODES, type DatapathMode } from '../datapath/datapath-mode.js';
import { detachTcEverywhere } from '../datapath/tc-datapath.js';
import { NODE_TC_HANDLE } from '../bpf/tc-attach.js';
import { commaList, DEFAULT_POD_INTERFACE_PATTERNS, parseInterfacePatterns } from '../datapath/pod-interfaces.js';
import type { ClusterSource } from '../k8s/cluster-source.js';
import { watchRestartsMetric } from './watch-metrics.js';
import { FileSource } from '../source/file-source.js';
import { parseCidrList } from '../net/cidr.js';
import { startAgent } from './agent.js';
import { addBenchCommands } from './bench-command.js';
import { createLogger } from './logger.js';
import { formatServiceTable, listServices, withStatus } from './service-list.js';
import { readAgentStatus, removeStaleStatusFiles, StatusFile, statusFilePath } from './agent-status.js';
import { packageVersion } from './version.js';
import { loadPolicySnapshot, type SnapshotFlags } from './policy-snapshot.js';
import { checkPolicy, formatPolicyCheck, formatPolicyList, listPolicy, readPinnedEndpoints, withProgrammed } from './policy-show.js';
import { formatFlowTables, listFlowTables } from './ct-list.js';
import { localInterfaceAddresses } from '../source/local-addresses.js';
import { DEMO_SERVICES_FILE } from '../install-paths.js';

const bpffsOption = (): Option => new Option('--bpffs <dir>', 'bpffs directory where maps and links are pinned').default(DEFAULT_BPFFS);

/** `policy check`'s exit status for a denied flow: apart from 1, which any error exits with. */
const POLICY_DENIED_EXIT = 3;

function fail(err: unknown): never {
  process.stderr.write(`socklb: ${(err as Error).message}\n`);
  process.exit(1);
}

const program = new Command('socklb')
  .description('Kubernetes service load balancing at the socket layer (BPF cgroup hooks, no NAT, no conntrack)')
  .version(packageVersion(), '--version', 'print the version')
  .enablePositionalOptions();

interface AgentFlags {
  services?: string;
  kubeconfig?: string;
  nodeName?: string;
  bpffs: string;
  cgroup?: string;
  metricsAddress: string;
  logLevel: string;
  mode: DatapathMode;
  podInterfaces: string;
  serviceCidrs?: string;
  nodeportAddresses?: string;
  nodeDevices?: string;
  networkPolicy?: boolean;
}

program
  .command('agent')
  .description('install or adopt the datapath and keep it equal to the cluster (API server) or to a services file')
  .option('--services <file>', 'read Services and EndpointSlices from this YAML or JSON file instead of the API server')
  .option('--kubeconfig <file>', 'kubeconfig for the API server (default: in-cluster service account, else ~/.kube/config)')
  .option('--node-name <name>', 'this node, for internalTrafficPolicy Local and topology hints', process.env.NODE_NAME)
  .addOption(bpffsOption())
  .option('--cgroup <dir>', 'cgroup v2 directory whose processes are load balanced (default: the cgroup2 root from /proc/mounts)')
  .addOption(
    new Option('--mode <mode>', 'socket: translate at connect/sendmsg (no NAT, no conntrack); conntrack: per-packet NAT at tc with a conntrack entry per flow (for comparisons)')
      .choices([...DATAPATH_MODES])
      .default('socket'),
  )
  .option(
    '--service-cidrs <cidrs>',
    "the cluster's service CIDRs, comma-separated (kube-apiserver's --service-cluster-ip-range); cluster IPs outside them are refused, and connects to them take one lookup fewer",
    process.env.SERVICE_CIDRS,
  )
  .option(
    '--nodeport-addresses <ips>',
    "this node's addresses where NodePorts are balanced for pods and the node's processes, comma-separated (default: the InternalIP and ExternalIP addresses of the Node named by --node-name)",
    process.env.NODEPORT_ADDRESSES,
  )
  .option(
    '--pod-interfaces <patterns>',
    "conntrack mode and --network-policy: the pods' host-side interfaces, comma-separated name patterns",
    DEFAULT_POD_INTERFACE_PATTERNS.join(','),
  )
  .option(
    '--node-devices <patterns>',
    "the node's external devices (its uplinks, and any device other nodes' pods are reached by), comma-separated name patterns: connections from outside the node to NodePorts, externalIPs and load-balancer IPs are balanced there (tc programs; unset: they are not)",
    process.env.NODE_DEVICES,
  )
  .option(
    '--network-policy',
    "enforce NetworkPolicy for this node's pods (needs --node-name): tc programs on the pods' interfaces, in either mode",
    process.env.NETWORK_POLICY === 'true' || process.env.NETWORK_POLICY === '1',
  )
  .option('--metrics-address <host:port>', 'where to serve /healthz, /readyz and /metrics ("" to disable)', '0.0.0.0:9966')
  .option('--log-level <level>', 'pino log level', 'info')
  .action(async (opts: AgentFlags) => {
    // A V8 flag, set by the agent itself (so every way of starting it gets it), after the code
    // changes ran out: V8's allocation-site pretenuring sometimes judges a site of the first
    // full sync long-lived and puts all its later, short-lived objects straight into the old
    // generation. Measured with 10,000 services x 10 endpoints (socklb bench agent-api): without
    // the flag 2 to 3 runs in 6 ended at 188-209 MB RSS instead of 165-175; with it 6 of 6 at
    // 164-173, and no change in sync or change latency. The flag is read at every GC, so setting
    // it here, before any list arrives, is in time.
    setFlagsFromString('--no-allocation-site-pretenuring');
    const log = createLogger(opts.logLevel);
    try {
      const serviceCidrs = parseCidrList(opts.serviceCidrs ?? '');
      const nodePortAddresses = opts.nodeportAddresses === undefined ? undefined : commaList(opts.nodeportAddresses);
      const nodeDevices = opts.nodeDevices ? parseInterfacePatterns(opts.nodeDevices, '--node-devices', 'eth0,ens*') : undefined;
      // The node programs' own frontends (externalTrafficPolicy Local) only where they run.
      const indexOptions = { serviceCidrs, ...(nodePortAddresses ? { nodePortAddresses } : {}), ...(nodeDevices ? { localScopeFrontends: true } : {}) };
      if (serviceCidrs.length === 0) {
        log.warn(
          "--service-cidrs is not set: any unicast cluster IP that is no pod or node address is programmed; set it to the cluster's service CIDRs so a wrong one is refused",
        );
      }
      let cluster: ClusterSource | undefined;
      if (!opts.services) {
        // Loaded only for the API source: client-node's Watch and node-fetch come with it.
        const [{ ClusterSource }, { loadApiConnection }, { DEFAULT_BACKOFF }] = await Promise.all([
          import('../k8s/cluster-source.js'),
          import('../k8s/kube-config.js'),
          import('../k8s/resource-watch.js'),
        ]);
        cluster = new ClusterSource(await loadApiConnection(opts.kubeconfig), opts.nodeName, log, DEFAULT_BACKOFF, indexOptions);
      }
      const agent = startAgent(
        {
          bpffs: opts.bpffs,
          cgroup: opts.cgroup ?? findCgroup2Root(),
          mode: opts.mode,
          podInterfaces: parseInterfacePatterns(opts.podInterfaces),
          ...(nodeDevices ? { nodeDevices } : {}),
          networkPolicy: opts.networkPolicy,
          serviceCidrs,
          nodeName: opts.nodeName,
          opsAddress: opts.metricsAddress || undefined,
          extraMetrics: cluster && ((m) => m.register(watchRestartsMetric(cluster!))),
        },
        { log, source: cluster ?? new FileSource(opts.services!, log, { nodeName: opts.nodeName, ...indexOptions }) },
      );
      const stop = (): void => {
        void agent.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'agent could not start');
      process.exit(1);
    }
  });

program
  .command('service')
  .description('inspect programmed services')
  .command('list')
  .description('list each frontend (VIP:port/protocol) with its backends, read from the pinned maps, and its status from the agent (why it is not as desired)')
  .addOption(bpffsOption())
  .option('--json', 'print JSON instead of a table')
  .action((opts: { bpffs: string; json?: boolean }) => {
    try {
      const agent = readAgentStatus(opts.bpffs);
      if (!agent) process.stderr.write(`no agent runs on ${opts.bpffs} (no status in ${statusFilePath(opts.bpffs)}): the maps are listed as they are, without status\n`);
      const services = withStatus(listServices(opts.bpffs), agent);
      process.stdout.write(opts.json ? `${JSON.stringify(services, null, 2)}\n` : formatServiceTable(services));
    } catch (err) {
      fail(err);
    }
  });

// policy list / check read the cluster from the agent's own sources (policy-snapshot.ts says why).
const policy = program.command('policy').description("NetworkPolicy as socklb's model judges it, from the agent's sources (a services file, or the API server)");
const snapshotOptions = (c: Command): Command =>
  c
    .option('--services <file>', 'read Pods, Namespaces and NetworkPolicies from this services file instead of the API server')
    .option('--kubeconfig <file>', 'kubeconfig for the API server (default: in-cluster service account, else ~/.kube/config)')
    .option('--node-name <name>', "the node whose view to take (its pods for list; its own addresses' traffic is allowed in)", process.env.NODE_NAME)
    .option('--timeout <seconds>', 'how long to wait for the complete cluster', (v) => Number.parseFloat(v), 30)
    .option('--json', 'print JSON instead of text');
const localNodeOf = (nodeName: string | undefined) => (nodeName ? { name: nodeName, addresses: localInterfaceAddresses() } : undefined);

snapshotOptions(policy.command('list'))
  .description('per pod of --node-name (every pod without it): the directions it is isolated in, the rules that apply, its identity')
  .addOption(bpffsOption())
  .action(async (opts: SnapshotFlags & { json?: boolean; bpffs: string }) => {
    try {
      const { inputs } = await loadPolicySnapshot(opts, createLogger('error', 2));
      const computed = listPolicy(inputs, localNodeOf(opts.nodeName));
      // Beside the model's view, what the agent on this bpffs wrote (its identity numbers).
      const pinned = readPinnedEndpoints(opts.bpffs);
      const listing = pinned ? withProgrammed(computed, pinned) : computed;
      process.stdout.write(opts.json ? `${JSON.stringify(listing, null, 2)}\n` : formatPolicyList(listing));
      // The API client's idle keep-alive connections outlive its stopped watches and would hold
      // the process open; the answer is out (stdout to a pipe or file is synchronous).
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

snapshotOptions(policy.command('check'))
  .description('whether a new flow is allowed, and the policies and rules that decided (exit status 0: allowed, 3: denied)')
  .requiredOption('--from <pod>', 'the client: namespace/name of a pod, or an address')
  .requiredOption('--to <pod>', 'the server, after service translation: namespace/name of a pod, or an address')
  .requiredOption('--port <port[/protocol]>', 'the destination port and protocol (TCP when not given): 8080, 53/UDP')
  .action(async (opts: SnapshotFlags & { json?: boolean; from: string; to: string; port: string }) => {
    try {
      const { inputs } = await loadPolicySnapshot(opts, createLogger('error', 2));
      const check = checkPolicy(inputs, opts.from, opts.to, opts.port, localNodeOf(opts.nodeName));
      process.stdout.write(opts.json ? `${JSON.stringify(check, null, 2)}\n` : formatPolicyCheck(inputs, check));
      process.exit(check.verdict.allowed ? 0 : POLICY_DENIED_EXIT); // as in list: nothing else may hold it open
    } catch (err) {
      fail(err);
    }
  });

program
  .command('ct')
  .description('inspect the tc flow tables')
  .command('list')
  .description("each entry of NetworkPolicy's lightweight conntrack (slb_pol_ct) and, in conntrack mode, of slb_ct: tuple, state, expiry, verdict bits")
  .addOption(bpffsOption())
  .option('--json', 'print JSON instead of text')
  .action((opts: { bpffs: string; json?: boolean }) => {
    try {
      const tables = listFlowTables(opts.bpffs);
      process.stdout.write(opts.json ? `${JSON.stringify(tables, null, 2)}\n` : formatFlowTables(tables));
    } catch (err) {
      fail(err);
    }
  });

program
  .command('uninstall')
  .description('detach every socklb program and remove its pinned links and maps')
  .addOption(bpffsOption())
  .action((opts: { bpffs: string }) => {
    try {
      const tc = [...detachTcEverywhere(), ...detachTcEverywhere(NODE_TC_HANDLE)];
      const removed = uninstallSockDatapath(opts.bpffs);
      new StatusFile(opts.bpffs).remove();
      process.stdout.write(
        `detached ${removed.links.length} socket programs and the tc programs of ${tc.length} interfaces, removed ${removed.maps.length} maps from ${opts.bpffs}\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

program
  .command('lab')
  .description('the namespaces, cgroups and pins of tests, benchmarks and demos')
  .command('sweep')
  .description('remove what runs that were killed before their clean-up left behind (their owner process is gone)')
  .action(async () => {
    try {
      const { sweepAbandonedRuns } = await import('../lab/sweep.js');
      const swept = await sweepAbandonedRuns();
      removeStaleStatusFiles();
      for (const [id, problems] of swept) process.stdout.write(`run ${id}: ${problems.length === 0 ? 'removed' : `left: ${problems.join('; ')}`}\n`);
      if ([...swept.values()].some((p) => p.length > 0)) process.exit(1);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`socklb ${packageVersion()}\n`);
  });

program
  .command('demo')
  .description('run a mini cluster in network namespaces and show connections to a VIP spread over three backends')
  .option('--services <file>', 'services file for the demo cluster', DEMO_SERVICES_FILE)
  .option('--connections <n>', 'TCP connections to make', (v) => Number.parseInt(v, 10), 300)
  .option('--verbose', 'show the agent log')
  .action(async (opts: { services: string; connections: number; verbose?: boolean }) => {
    const log = createLogger(opts.verbose ? 'info' : 'warn', 2);
    try {
      const { runDemo } = await import('./demo.js');
      const ok = await runDemo({ services: opts.services, connections: opts.connections }, log, (s) => process.stdout.write(`${s}\n`));
      process.exit(ok ? 0 : 1);
    } catch (err) {
      fail(err);
    }
  });

addBenchCommands(program);

await program.parseAsync(process.argv);
