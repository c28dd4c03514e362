// The agent converges by itself near the frontends map's capacity (65,536): a replacement of
// 40,000 frontends by 40,000 others in one file change, and frontends that failed because the
// map was really full are retried, without the file changing again, once room appears.
import { writeFileSync, renameSync } from 'node:fs';
import t from 'tap';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { MAP_CAPACITY } from '../../src/datapath/datapath-maps.js';
import { IPPROTO_TCP } from '../../src/datapath/frontends-map.js';
import { byBackend, eventually, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const COUNT = 40_000;
const BACKENDS = ['be-1', 'be-2'];

/** The i-th VIP inside the lab's service range 10.96.0.0/16 (blackholed when not translated). */
const vip = (i: number): string => `10.96.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

t.test('40,000 frontends replaced by 40,000 others near the map capacity', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const pods = BACKENDS.map((b) => lab.pod(b).ipv4);
  /** For each set, `count` services named prefix-i on `port`, each with one endpoint; as JSON
   * (the file source parses it fastest). */
  const writeSets = (...sets: { prefix: string; port: number; count: number }[]): void => {
    const items: unknown[] = [];
    for (const { prefix, port, count } of sets) {
      for (let i = 0; i < count; i++) {
        const name = `${prefix}-${i}`;
        items.push(service('ns', name, [vip(i)], [{ port, targetPort: 8080 }]));
        items.push(endpointSlice('ns', `${name}-1`, name, 'IPv4', [{ port: 8080 }], [pods[i % pods.length]!]));
      }
    }
    const tmp = `${lab.servicesFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    renameSync(tmp, lab.servicesFile);
  };
  const maps = openPinnedDatapath.bind(null, lab.bpffs);
  /** Frontends on `port` in the pinned map (what the kernel holds, not what the agent thinks). */
  const programmedOn = (port: number): number => {
    const dp = maps();
    try {
      return dp.maps.frontends.entries().filter(([k]) => k.port === port).length;
    } finally {
      dp.close();
    }
  };

  writeSets({ prefix: 'a', port: 80, count: COUNT });
  const agent = lab.startAgent();
  const first = await agent.nextSync(30_000);
  t.match(first, { frontends: COUNT, errors: 0 }, 'the first set is programmed');

  t.test('a replacement in one change: every new frontend is programmed', async (t) => {
    const started = Date.now();
    writeSets({ prefix: 'b', port: 81, count: COUNT });
    const synced = await agent.nextSync(30_000);
    t.comment(`sync: ${JSON.stringify({ added: synced.frontendsAdded, removed: synced.frontendsRemoved, errors: synced.errors, durationMs: synced.durationMs })}`);
    const ms = await eventually(
      () => programmedOn(81) === COUNT,
      10_000,
      () => `${programmedOn(81)} of ${COUNT} new frontends programmed, ${programmedOn(80)} old ones left`,
    );
    t.equal(programmedOn(80), 0, 'the old ones are gone');
    t.comment(`all ${COUNT} new frontends in the map ${Date.now() - started - ms} + ${ms} ms after the write`);
    t.same(byBackend(await lab.probe({ mode: 'tcp', host: vip(COUNT - 1), port: 81, count: 4 })), { [BACKENDS[(COUNT - 1) % 2]!]: 4 });
  });

  t.test('frontends that found the map full are retried until they fit, with no new input', async (t) => {
    // Room taken by entries the agent does not know (another writer, a leak): real E2BIG from
    // the kernel. 40,000 + 20,000 fit; the next file keeps 10,000 of them and adds 40,000.
    const FOREIGN = 20_000;
    const KEPT = 10_000;
    const foreign = Array.from({ length: FOREIGN }, (_, i) => ({ address: `10.97.${Math.floor(i / 250)}.${1 + (i % 250)}`, port: 9, protocol: IPPROTO_TCP }));
    const dp = maps();
    t.teardown(() => dp.close());
    const filled = dp.maps.frontends.setMany(foreign.map((key) => [key, { service_id: 0xfffffff0, backend_count: 0, generation: 0, flags: 0, affinity_timeout: 0 }] as const));
    t.equal(filled.done, FOREIGN);
    const from = agent.logs.length;
    writeSets({ prefix: 'a', port: 80, count: COUNT }, { prefix: 'b', port: 81, count: KEPT });
    const synced = await agent.nextSync(30_000);
    const overflow = FOREIGN + KEPT + COUNT - MAP_CAPACITY.frontends;
    t.equal(synced.errors, overflow, `${overflow} frontends did not fit`);
    t.equal(programmedOn(80), COUNT - overflow);
    t.equal(programmedOn(81), KEPT);
    const syncLines = agent.logs.slice(from, agent.logs.indexOf(synced));
    t.equal(syncLines.filter((l) => l.msg.startsWith('service not programmed')).length, 20, 'the sync logs 20 failed frontends one by one');
    t.match(
      syncLines.find((l) => l.msg.startsWith('more services not programmed')),
      { more: overflow - 20, byReason: { map_full: overflow - 20 } },
      'and the rest in one line',
    );
    const freed = Date.now();
    t.equal(dp.maps.frontends.deleteMany(foreign).done, FOREIGN, 'room is made by someone else');
    const ms = await eventually(
      () => programmedOn(80) === COUNT,
      45_000,
      () => `${programmedOn(80)} of ${COUNT} programmed; agent said: ${JSON.stringify(agent.logs.slice(-3))}`,
    );
    t.comment(`the ${overflow} failed frontends were programmed ${ms} ms after room was made (${Date.now() - freed} ms)`);
    t.equal(programmedOn(81), KEPT);
    // The pass that wrote the last of them logs it after the write: its line may still be on its way.
    const last = await agent.waitForLog((l) => l.msg === 'retried failed frontends' && l.stillFailing === 0, 10_000, from);
    t.match(last, { retried: Number, stillFailing: 0 }, 'the retry pass that succeeded is logged');
    const passes = agent.logs.slice(from).filter((l) => l.msg === 'retried failed frontends');
    t.comment(`retry passes: ${passes.map((p) => `${p.retried}/${p.stillFailing}`).join(' ')}`);
    t.same(byBackend(await lab.probe({ mode: 'tcp', host: vip(COUNT - 1), port: 80, count: 4 })), { [BACKENDS[(COUNT - 1) % 2]!]: 4 });
  });
});
