// The services file as users really write it (the defects issue, items 2, 5 and 8), with the
// real agent on the real kernel: emptied and slowly rewritten files never reach the maps, an
// explicit empty List does, internalTrafficPolicy Local uses --node-name, and bad objects are
// reported in short lines while the rest applies.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { byBackend, eventually, KernelLab, programmed } from '../helpers/kernel-lab.js';
import { endpointSlice, service, toYaml } from '../helpers/k8s-fixtures.js';

const PORT = 7000;

/** Runs a shell command (a writer of the services file) to its end, by its PID only. */
function runShell(script: string, file: string): Promise<number | null> {
  const child = spawn('/bin/sh', ['-c', script, 'sh', file], { stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', resolve));
}

/** Samples the programmed frontends every few ms until stop() and keeps every distinct view. */
function watchProgrammed(bpffs: string): { stop(): string[][] } {
  const seen = new Map<string, string[]>();
  const sample = (): void => {
    const keys = Object.keys(programmed(bpffs));
    seen.set(keys.join(' '), keys);
  };
  sample();
  const tick = setInterval(sample, 10);
  return {
    stop() {
      clearInterval(tick);
      sample();
      return [...seen.values()];
    },
  };
}

t.test('empty, slowly written and cut-off files are never applied; an empty List is', async (t) => {
  const lab = await KernelLab.create(t, ['be-1'], [PORT]);
  const be1 = lab.pod('be-1').ipv4;
  const objects = (n: number): Record<string, unknown>[] =>
    Array.from({ length: n }, (_, i) => [service('ns', `s${i}`, [`10.96.1.${i + 1}`], [{ port: PORT }]), endpointSlice('ns', `s${i}-1`, `s${i}`, 'IPv4', [{ port: PORT }], [be1])]).flat();
  lab.writeServices(objects(20));
  const agent = lab.startAgent();
  await agent.nextSync();
  const all20 = Object.keys(programmed(lab.bpffs));
  t.equal(all20.length, 20);

  await t.test('an emptied file keeps the last state and says so', async (t) => {
    const from = agent.logs.length;
    writeFileSync(lab.servicesFile, '');
    const line = await agent.waitForLog((l) => l.msg.startsWith('services file not applied'), 5000, from);
    t.match(line.err, /is empty, so it is not applied .* write an empty List/);
    t.same(Object.keys(programmed(lab.bpffs)), all20);
    const r = await lab.probe({ mode: 'tcp', host: '10.96.1.20', port: PORT, count: 10 });
    t.equal(r.ok, 10, 'the last service still answers');
  });

  await t.test('a writer that truncates and pauses (`(sleep 0.3; cat good) > file`) is waited for', async (t) => {
    const good = `${lab.servicesFile}.good`;
    writeFileSync(good, toYaml(objects(21)));
    const watch = watchProgrammed(lab.bpffs);
    const load = lab.probe({ mode: 'tcp', host: '10.96.1.20', port: PORT, count: 100_000, concurrency: 2, durationMs: 1500 });
    const from = agent.logs.length;
    await runShell(`(sleep 0.3; cat "$1.good") > "$1"`, lab.servicesFile);
    await eventually(() => Object.keys(programmed(lab.bpffs)).length === 21, 3000, () => 'the new service is programmed');
    const views = watch.stop();
    t.same(
      views.map((v) => v.length),
      [20, 21],
      'the maps went from the old state straight to the new one',
    );
    const r = await load;
    t.same(r.errors, {}, `no connection to an unchanged service failed (${r.ok} made)`);
    t.ok(
      agent.logs.slice(from).some((l) => l.msg.startsWith('services file is still open for writing') && l.writer === 'sh'),
      'the wait for the writer is logged',
    );
  });

  await t.test('a writer that stops half-way through a document for a while is never applied half-way', async (t) => {
    const text = toYaml(objects(22));
    // Cut at a document boundary half-way: the first part is a valid, smaller cluster.
    const cut = text.indexOf('---\n', text.length / 2) + 4;
    writeFileSync(`${lab.servicesFile}.head`, text.slice(0, cut));
    writeFileSync(`${lab.servicesFile}.tail`, text.slice(cut));
    const watch = watchProgrammed(lab.bpffs);
    await runShell(`(cat "$1.head"; sleep 0.4; cat "$1.tail") > "$1"`, lab.servicesFile);
    await eventually(() => Object.keys(programmed(lab.bpffs)).length === 22, 3000, () => 'the whole file is programmed');
    t.same(
      watch.stop().map((v) => v.length),
      [21, 22],
    );
    t.equal(readFileSync(lab.servicesFile, 'utf8'), text);
  });

  await t.test('an explicit empty List removes every service', async (t) => {
    writeFileSync(lab.servicesFile, 'apiVersion: v1\nkind: List\nitems: []\n');
    await eventually(() => Object.keys(programmed(lab.bpffs)).length === 0, 3000, () => 'all removed');
    t.pass('removed');
  });
});

t.test('internalTrafficPolicy Local in file mode uses --node-name', async (t) => {
  const lab = await KernelLab.create(t, ['be-1', 'be-2'], [PORT]);
  const slice = endpointSlice('ns', 'local-1', 'local', 'IPv4', [{ port: PORT }], [lab.pod('be-1').ipv4, lab.pod('be-2').ipv4]);
  const endpoints = slice.endpoints as Record<string, unknown>[];
  endpoints[0]!.nodeName = 'node-a';
  endpoints[1]!.nodeName = 'node-b';
  const local = service('ns', 'local', ['10.96.0.50'], [{ port: PORT }]);
  (local.spec as Record<string, unknown>).internalTrafficPolicy = 'Local';
  lab.writeServices([local, slice]);

  const named = lab.startAgent(['--services', lab.servicesFile, '--node-name', 'node-a']);
  await named.nextSync();
  const r = await lab.probe({ mode: 'tcp', host: '10.96.0.50', port: PORT, count: 40 });
  t.same(byBackend(r), { 'be-1': 40 }, "only node-a's endpoint");
  await named.stop();

  const unnamed = lab.startAgent();
  await unnamed.nextSync();
  t.ok(
    unnamed.logs.some((l) => l.object === 'Service ns/local' && l.field === 'spec.internalTrafficPolicy' && /set --node-name or NODE_NAME/.test(l.msg)),
    'without a node name the Local service is reported',
  );
  const refused = await lab.probe({ mode: 'tcp', host: '10.96.0.50', port: PORT, count: 5 });
  t.same(refused.errors, { ECONNREFUSED: 5 }, 'and refuses connections, as it has no endpoint on this node');
});

t.test('bad objects are reported in short lines and skip only themselves', async (t) => {
  const lab = await KernelLab.create(t, ['be-1', 'be-2'], [PORT]);
  const be = [lab.pod('be-1').ipv4, lab.pod('be-2').ipv4];
  const stringReady = endpointSlice('ns', 'str-1', 'str', 'IPv4', [{ port: PORT }], be);
  ((stringReady.endpoints as Record<string, unknown>[])[0]!.conditions as Record<string, unknown>).ready = 'true';
  const v2 = { ...service('ns', 'v2', ['10.96.0.62'], [{ port: PORT }]), apiVersion: 'v2' };
  const noPort = endpointSlice('ns', 'noport-1', 'noport', 'IPv4', [{ port: null }], be);
  // An alias bomb: 9 levels of 9 aliases in a few hundred bytes of YAML.
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const bomb = `apiVersion: v1\nkind: Service\nmetadata: {name: bomb, namespace: ns}\nx:\n${levels.map((l) => `  ${l}`).join('\n')}\nspec:\n  clusterIPs: *i\n  ports: [{port: ${PORT}}]\n`;
  const text = [
    toYaml([
      service('ns', 'str', ['10.96.0.61'], [{ port: PORT }]),
      stringReady,
      v2,
      service('ns', 'noport', ['10.96.0.63'], [{ port: PORT }]),
      noPort,
      service('ns', 'dup', ['10.96.0.64'], [{ port: PORT }]),
      service('ns', 'dup', ['10.96.0.65'], [{ port: PORT }]),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns' } },
    ]),
    bomb,
  ].join('---\n');
  writeFileSync(lab.servicesFile, text);
  const agent = lab.startAgent(['--services', lab.servicesFile, '--log-level', 'debug']);
  await agent.nextSync();
  const warned = (object: string, field: string, re: RegExp): void => {
    t.ok(
      agent.logs.some((l) => l.object === object && l.field === field && re.test(l.msg)),
      `${object} ${field}`,
    );
  };
  warned('EndpointSlice ns/str-1', 'endpoints[0].conditions.ready', /is "true"; a condition is true, false or unset/);
  warned('Service ns/v2', 'apiVersion', /is "v2"; socklb reads Service v1, so this object is skipped/);
  warned('EndpointSlice ns/noport-1', 'ports[0].port', /is missing; a slice port without a number is not used \(as kube-proxy does\)/);
  warned('Service ns/dup', 'metadata.name', /is defined twice .* the later definition is used/);
  t.ok(
    agent.logs.some((l) => l.level === 20 && l.kind === 'Deployment' && /not read; skipped/.test(l.msg)),
    'an unknown kind gets one debug line',
  );
  const view = programmed(lab.bpffs);
  t.same(Object.keys(view), ['10.96.0.61:7000/TCP', '10.96.0.63:7000/TCP', '10.96.0.65:7000/TCP'], 'the rest applies: v2 and the bomb are skipped, the later dup wins');
  t.same(view['10.96.0.61:7000/TCP'], [`${be[1]}:${PORT}`], 'the endpoint with a string condition is not ready');
  t.same(view['10.96.0.63:7000/TCP'], [], 'a slice port without a number gives no endpoints, as in kube-proxy');
  const longest = Math.max(...agent.logs.map((l) => JSON.stringify(l).length));
  t.ok(longest < 2000, `every log line is short (longest ${longest} bytes)`);
});
