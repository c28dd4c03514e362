// `socklb service list`, in a process of its own, shows why a frontend is not as desired: the
// agent publishes its failed frontends (reason, attempts, last error, next retry) in a status
// file, and the listing joins them to what the pinned maps hold. The failure is real: the
// service addresses map is filled to its capacity with entries the agent does not know, so the
// kernel answers E2BIG when a frontend on a new address needs its address in it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { statusFilePath } from '../../src/cli/agent-status.js';
import type { ListedService } from '../../src/cli/service-list.js';
import { MAP_CAPACITY } from '../../src/datapath/datapath-maps.js';
import { PLAIN_VIP } from '../../src/datapath/vips-map.js';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { byBackend, eventually, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const socklb = (...args: string[]): string => execFileSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

t.test('service list shows a failing frontend with its reason and attempts, then ok once it is programmed', async (t) => {
  const lab = await KernelLab.create(t, ['be-1'], [8080]);
  const objects = (names: string[]): unknown[] =>
    names.flatMap((name, i) => [
      service('ns', name, [`10.96.0.${10 + i}`], [{ port: 80, targetPort: 8080 }]),
      endpointSlice('ns', `${name}-1`, name, 'IPv4', [{ port: 8080 }], [lab.pod('be-1').ipv4]),
    ]);
  lab.writeServices(objects(['web']));
  const agent = lab.startAgent();
  t.match(await agent.nextSync(), { frontends: 1, errors: 0 });
  const ops = (await agent.waitForLog((l) => l.msg === 'serving /healthz, /readyz and /metrics')).address as string;
  const list = (): ListedService[] => JSON.parse(socklb('service', 'list', '--bpffs', lab.bpffs, '--json')) as ListedService[];
  t.match(list(), [{ id: 1, frontend: { address: '10.96.0.10' }, status: { state: 'ok' } }], 'as desired');

  // Every free entry of the addresses map taken by someone else (addresses nothing here uses).
  const dp = openPinnedDatapath(lab.bpffs);
  t.teardown(() => dp.close());
  const foreign = Array.from({ length: MAP_CAPACITY.vips - 1 }, (_, i) => ({ words: `10.97.${i >> 8}.${i & 255}` }));
  t.equal(dp.maps.vips.setMany(foreign.map((key) => [key, PLAIN_VIP] as const)).done, foreign.length);

  lab.writeServices(objects(['web', 'api']));
  t.match(await agent.nextSync(), { errors: 1 }, 'the new frontend does not fit');
  // The retries go on with backoff; wait for a second attempt so the count is seen to grow.
  await eventually(
    () => list().some((s) => s.status?.state === 'failing' && s.status.attempts >= 2),
    10_000,
    () => JSON.stringify(list()),
  );
  const listed = list();
  t.match(listed, [
    { id: 1, frontend: { address: '10.96.0.10', port: 80, protocol: 'TCP' }, status: { state: 'ok' } },
    {
      id: null,
      frontend: { address: '10.96.0.11', port: 80, protocol: 'TCP' },
      backends: [],
      status: { state: 'failing', owner: 'ns/api', reason: 'map_full', attempts: Number, lastError: /E2BIG/, retryInMs: Number, removal: false },
    },
  ]);
  t.comment(`listed: ${JSON.stringify(listed[1]!.status)}`);
  const table = socklb('service', 'list', '--bpffs', lab.bpffs);
  t.match(
    table,
    /^ID\s+FRONTEND\s+STATUS\s+BACKENDS\n1\s+10\.96\.0\.10:80\/TCP\s+ok\s+1\) 10\.244\.0\.\d+:8080\n-\s+10\.96\.0\.11:80\/TCP\s+map_full, \d+ attempts, retry in \d+\.\d s\s+\(not in the maps\)\n/,
  );
  t.match(table, /\n10\.96\.0\.11:80\/TCP \(ns\/api\): .*E2BIG/, 'the last error, below the table');
  const metrics = await (await fetch(`http://${ops}/metrics`)).text();
  t.match(metrics, /^socklb_sync_errors_total\{reason="map_full"\} 1$/m, 'the sync error, by reason');
  t.match(metrics, /^socklb_sync_errors_total\{reason="map_error"\} 0$/m);
  t.match(metrics, /^socklb_frontends_failing\{reason="map_full"\} 1$/m);
  t.match(metrics, /^socklb_map_entries\{map="vips"\} 1$/m, 'entries are what the agent wrote, not what others did');

  // Room is made; the retry programs it with no new input, and the status follows.
  t.equal(dp.maps.vips.deleteMany(foreign).done, foreign.length);
  await eventually(
    () => list().every((s) => s.status?.state === 'ok' && s.id !== null),
    45_000,
    () => JSON.stringify(list()),
  );
  t.match(list(), [{ frontend: { address: '10.96.0.10' } }, { frontend: { address: '10.96.0.11' }, status: { state: 'ok' }, backends: [{ port: 8080 }] }]);
  t.same(byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.11', port: 80, count: 3 })), { 'be-1': 3 });
  t.match(socklb('service', 'list', '--bpffs', lab.bpffs), /^ID\s+FRONTEND\s+BACKENDS\n/, 'no STATUS column when everything is as desired');

  // A stopped agent retries nothing: its status goes with it.
  await agent.stop();
  t.notOk(existsSync(statusFilePath(lab.bpffs)), 'the status file is removed');
  t.match(list(), [{ status: { state: 'unknown' } }, { status: { state: 'unknown' } }]);
});
