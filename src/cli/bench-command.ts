// `socklb bench ...`: runs a benchmark, prints progress and a summary, writes JSON results.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { benchAgentOverApi } from '../bench/agent-over-api.js';
import { benchControlPlane } from '../bench/control-plane.js';
import { benchConnections, CONNECTION_MODES } from '../bench/connection-bench.js';

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

export function addBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks (they build their own namespaces and cgroups, and remove them)');

  // Short and long connections run the same harness with a different client loop.
  const connectionBenches = [
    ['short-connections', 'crr', 'connect/1-byte request/response/close: socklb VIP, kube-proxy iptables layout, straight to the backend, interleaved', 'conn/s'],
    ['long-connections', 'rr', '1-byte request/response on one persistent connection: socklb VIP, kube-proxy iptables layout, straight to the backend, interleaved', 'req/s'],
    ['udp', 'udp', 'UDP request/response, sendto the VIP and recvfrom on one unconnected socket: socklb, kube-proxy iptables layout, direct, interleaved', 'req/s'],
  ] as const;
  for (const [name, workload, description, unit] of connectionBenches) {
    bench
      .command(name)
      .description(description)
      .option('--rounds <n>', 'interleaved rounds', int, 5)
      .option('--duration-ms <ms>', 'length of each run', int, 3000)
      .option('--services <n>', 'services programmed (socklb and iptables); the measured one is the last', int, 1)
      .option('--json <file>', 'write the results as JSON')
      .action(async (opts: { rounds: number; durationMs: number; services: number; json?: string }) => {
        const r = await benchConnections({ ...opts, workload }, say);
        say(`\nmode            ${unit} (median, min-max)`.padEnd(47) + '   p50 us   p99 us   vs direct   conntrack entries after');
        for (const m of CONNECTION_MODES) {
          const x = r.modes[m];
          say(
            `${m.padEnd(15)} ${x.rate.median.toFixed(0).padStart(7)} (${x.rate.min.toFixed(0)}-${x.rate.max.toFixed(0)})`.padEnd(47) +
              `${x.p50Us.median.toFixed(1).padStart(6)}   ${x.p99Us.median.toFixed(1).padStart(6)}   ${r.ratioToDirect[m].toFixed(3).padStart(9)}   ${x.conntrackAfter.median.toFixed(0)}`,
          );
        }
        writeJson(opts.json, { benchmark: name, date: new Date().toISOString(), ...r });
      });
  }

  // The two control-plane benchmarks take the same size options and report the same way.
  const sized = [
    ['agent-api', 'the agent process fed by a list/watch API server on loopback: lists to maps, change latency, RSS', [10000, 10, 200], benchAgentOverApi],
    ['control-plane', 'time to program N services x M endpoints, and one endpoint change at that size, in one process', [5000, 3, 50], benchControlPlane],
  ] as const;
  for (const [name, description, [services, endpoints, changes], run] of sized) {
    bench
      .command(name)
      .description(description)
      .option('--services <n>', 'services', int, services)
      .option('--endpoints <n>', 'endpoints per service', int, endpoints)
      .option('--changes <n>', 'single-endpoint changes to time', int, changes)
      .option('--json <file>', 'write the results as JSON')
      .action(async (opts: { services: number; endpoints: number; changes: number; json?: string }) => {
        const r = await run(opts, say);
        writeJson(opts.json, { benchmark: name, date: new Date().toISOString(), ...r });
      });
  }
}
