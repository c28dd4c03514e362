// `socklb bench cluster` as the client Job runs it, inside a client pod of a bench topology
// (socket mode on its cgroup): it resolves its targets, measures the service and the pods
// directly, and prints the result as its last line.
import t from 'tap';
import type { SuiteResult } from '../../src/bench/report/suite-result.js';
import { BenchTopology, VIP } from '../../src/bench/suite/bench-topology.js';
import { CLI_PATH } from '../../src/install-paths.js';

t.test('bench cluster from a pod', async (t) => {
  const topo = await BenchTopology.create({ backends: 2, services: 1 }, () => undefined);
  t.teardown(() => topo.destroy());
  const args = ['bench', 'cluster', '--mode-label', 'socket', '--service', VIP, '--direct', topo.backendAddresses.join(','), '--repetitions', '1', '--duration-ms', '300'];
  const child = topo.net.spawn('client', process.execPath, [CLI_PATH, ...args], { inCgroup: true });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  t.equal(code, 0, out.slice(-500));
  const result = JSON.parse(out.trim().split('\n').pop()!) as SuiteResult;
  t.same(result.problems, []);
  t.same(
    result.sections.map((s) => s.id),
    ['short-connections', 'long-connections', 'udp'],
  );
  for (const s of result.sections) {
    t.same(s.rows.map((r) => r.mode).sort(), ['direct', 'socket'], `${s.id}: the labelled mode and direct`);
    for (const r of s.rows) t.ok(r.values.rate!.median > 100, `${s.id} ${r.mode}: ${r.values.rate!.median}/s`);
  }
  t.match(out, /## Service, short connections/, 'the Markdown table is printed too');
});
