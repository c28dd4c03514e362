// `socklb bench ...`: runs a benchmark, prints progress and a summary, writes JSON results.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { PROFILES, SECTION_IDS, type SectionId, type SuiteProfile } from '../bench/suite/profiles.js';
import type { SuiteResult } from '../bench/report/suite-result.js';

// The benchmarks, the suite and the report writer are loaded by the command that runs them:
// every socklb process parses this file, and the agent must not carry the bench code.
const report = () => Promise.all([import('../bench/report/markdown-report.js'), import('../bench/report/write-report.js')]);

const int = (v: string): number => {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n < 1) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

function writeJson(path: string | undefined, data: unknown): void {
  if (!path) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
// A reader that goes away (| head) must not kill a run before it removes what it made.
process.stdout.on('error', () => undefined);

const intList = (v: string): number[] => v.split(',').map((x) => int(x.trim()));

function sectionList(v: string): SectionId[] {
  const ids = v.split(',').map((x) => x.trim());
  for (const id of ids) if (!(SECTION_IDS as readonly string[]).includes(id)) throw new Error(`unknown section ${id}; choose from ${SECTION_IDS.join(', ')}`);
  return ids as SectionId[];
}

interface SuiteFlags {
  quick?: boolean;
  profile: string;
  sections?: SectionId[];
  out?: string;
  repetitions?: number;
  durationMs?: number;
  services?: number[];
  pods?: number[];
}

function chosenProfile(flags: SuiteFlags): SuiteProfile {
  const name = flags.quick ? 'quick' : flags.profile;
  if (name !== 'quick' && name !== 'full') throw new Error(`unknown profile ${name}; choose quick or full`);
  const p = PROFILES[name];
  return {
    ...p,
    ...(flags.repetitions ? { repetitions: flags.repetitions } : {}),
    ...(flags.durationMs ? { durationMs: flags.durationMs } : {}),
    ...(flags.services ? { servicePoints: flags.services } : {}),
    ...(flags.pods ? { podPoints: flags.pods } : {}),
  };
}

export function addBenchCommands(program: Command): void {
  const bench = program
    .command('bench')
    // Options after a subcommand (bench merge --out, bench cluster --repetitions) are the
    // subcommand's, not bench's own options of the same name.
    .enablePositionalOptions()
    .description(
      'the comparison: every mode (socket, conntrack, kube-proxy iptables/nftables/ipvs layouts, direct) on the same namespaces and workloads; writes JSON, Markdown and SVG charts and prints the tables',
    )
    .option('--quick', 'the quick profile (a few minutes)')
    .option('--profile <name>', 'quick or full', 'full')
    .option('--sections <list>', `comma-separated, from ${SECTION_IDS.join(', ')}`, sectionList)
    .option('--out <dir>', 'report directory (default: bench-results/<date>-<profile>)')
    .option('--repetitions <n>', "override the profile's repetitions", int)
    .option('--duration-ms <ms>', "override the profile's run length", int)
    .option('--services <list>', "override the service sweep's points, e.g. 1,100,1000", intList)
    .option('--pods <list>', "override the pod sweep's points, e.g. 3,10", intList)
    .action(async (flags: SuiteFlags) => {
      const profile = chosenProfile(flags);
      const command = ['socklb', 'bench', ...process.argv.slice(3)].join(' ');
      const [{ runSuite }, [{ renderMarkdown }, { writeReport }]] = await Promise.all([import('../bench/suite/run-suite.js'), report()]);
      const dirOf = (r: SuiteResult): string => flags.out ?? `bench-results/${r.date.replace(/[:.]/g, '-')}-${profile.name}`;
      // The report is rewritten after each section, so a run that ends early keeps what it
      // measured (its report lists what was not run).
      let partial: string | undefined;
      const result = await runSuite(profile, flags.sections ?? SECTION_IDS, command, say, (soFar) => {
        partial = writeReport(soFar, dirOf(soFar)).markdown;
      }).catch((err: unknown) => {
        if (partial) say(`the run ended early; the sections it finished are in ${partial}`);
        throw err;
      });
      const dir = dirOf(result);
      const written = writeReport(result, dir);
      say(`\n${renderMarkdown(result)}`);
      say(`report: ${written.markdown}, data: ${written.json}, charts: ${written.charts.length} in ${dir}/charts`);
      if (result.problems?.length) {
        say(`${result.problems.length} checks failed (see above): the numbers of those runs are not trustworthy`);
        process.exitCode = 1;
      }
    });

  bench
    .command('cluster')
    .description("from a client pod (deploy/bench): the service workloads against a real cluster's Service, labelled with the datapath it runs, and against the pods directly")
    .requiredOption('--mode-label <name>', 'what the cluster runs now, e.g. socket, conntrack, kube-proxy-iptables')
    .option('--service <name>', 'the bench Service (DNS name or ClusterIP)', 'socklb-bench.socklb-bench.svc.cluster.local')
    .option('--port <n>', 'its port (TCP and UDP)', int, 80)
    .option(
      '--direct <name>',
      'headless Service over the same pods (or their IPv4 addresses, comma-separated), for direct runs',
      'socklb-bench-direct.socklb-bench.svc.cluster.local',
    )
    .option('--direct-port <n>', "the pods' port", int, 8080)
    .option('--repetitions <n>', 'interleaved repetitions', int, 5)
    .option('--duration-ms <ms>', 'length of each run', int, 3000)
    .option('--out <dir>', 'also write the report directory here')
    .action(async (o: { modeLabel: string; service: string; port: number; direct: string; directPort: number; repetitions: number; durationMs: number; out?: string }) => {
      const [{ runClusterClient }, [{ renderMarkdown }, { writeReport }]] = await Promise.all([import('../bench/suite/cluster-client.js'), report()]);
      const result = await runClusterClient({ ...o, direct: o.direct || undefined }, say);
      if (o.out) writeReport(result, o.out);
      say(`\n${renderMarkdown(result)}`);
      // The last line is the result: kubectl logs job/socklb-bench-client | tail -1 > socket.json
      say(JSON.stringify(result));
    });

  bench
    .command('merge')
    .description('one report from several result.json files (e.g. one per datapath on a cluster); samples of the same mode are pooled')
    .argument('<files...>', 'result.json files')
    .requiredOption('--out <dir>', 'report directory to write')
    .action(async (files: string[], o: { out: string }) => {
      const [{ mergeResults }, [{ renderMarkdown }, { writeReport }]] = await Promise.all([import('../bench/suite/merge-results.js'), report()]);
      const merged = mergeResults(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as SuiteResult));
      const written = writeReport(merged, o.out);
      say(renderMarkdown(merged));
      say(`report: ${written.markdown}`);
    });

  // The two control-plane benchmarks take the same size options and report the same way.
  const sized = [
    [
      'agent-api',
      'the agent process fed by a list/watch API server on loopback: lists to maps, change latency, RSS',
      [10000, 10, 200],
      async () => (await import('../bench/agent-over-api.js')).benchAgentOverApi,
    ],
    [
      'control-plane',
      'time to program N services x M endpoints, and one endpoint change at that size, in one process',
      [5000, 3, 50],
      async () => (await import('../bench/control-plane.js')).benchControlPlane,
    ],
  ] as const;
  for (const [name, description, [services, endpoints, changes], load] of sized) {
    const command = bench
      .command(name)
      .description(description)
      .option('--services <n>', 'services', int, services)
      .option('--endpoints <n>', 'endpoints per service', int, endpoints)
      .option('--changes <n>', 'single-endpoint changes to time', int, changes)
      .option('--json <file>', 'write the results as JSON');
    if (name === 'agent-api') {
      // NetworkPolicy's inputs, which only the API source reads.
      command
        .option('--pods <n>', 'pods (labelled, over 50 nodes, with a named port; the first are the endpoints)', int, 0)
        .option('--policies <n>', 'NetworkPolicies', int, 0)
        .option('--namespaces <n>', 'namespaces the pods and policies are spread over', int, 10);
    }
    command.action(async (opts: { services: number; endpoints: number; changes: number; json?: string }) => {
      const r = await (await load())(opts, say);
      writeJson(opts.json, { benchmark: name, date: new Date().toISOString(), ...r });
    });
  }
}
