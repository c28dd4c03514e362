import t from 'tap';
import { Metrics } from '../../src/cli/metrics.js';
import { startOpsServer } from '../../src/cli/ops-server.js';

t.test('metrics render in the Prometheus text format', async (t) => {
  const m = new Metrics();
  m.observeSync(0.003, []);
  m.observeSync(0.2, [{ reason: 'map_full' }, { reason: 'unsupported' }]);
  m.register({ name: 'x_total', help: 'X.', type: 'counter', read: () => [{ labels: { a: 'q"\\\n' }, value: 5n }, { value: 1 }] });
  const text = m.render();
  t.match(text, /^# TYPE socklb_sync_duration_seconds histogram$/m);
  t.match(text, /^socklb_sync_duration_seconds_bucket\{le="0.0025"\} 0$/m);
  t.match(text, /^socklb_sync_duration_seconds_bucket\{le="0.005"\} 1$/m);
  t.match(text, /^socklb_sync_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
  t.match(text, /^socklb_sync_duration_seconds_count 2$/m);
  // The 2 errors, by reason; every reason has its series from the start.
  t.match(text, /^socklb_sync_errors_total\{reason="map_full"\} 1$/m);
  t.match(text, /^socklb_sync_errors_total\{reason="map_error"\} 0$/m);
  t.match(text, /^socklb_sync_errors_total\{reason="unsupported"\} 1$/m);
  t.notMatch(text, /^socklb_sync_errors_total /m, 'no series without a reason');
  t.match(text, /^x_total\{a="q\\"\\\\\\n"\} 5$/m, 'label values are escaped');
  t.match(text, /^x_total 1$/m);
});

t.test('health, readiness and metrics over HTTP', async (t) => {
  let notReady: string | undefined = 'the first full sync is not in the maps yet';
  const { server, address } = await startOpsServer('127.0.0.1:0', { notReady: () => notReady, metrics: () => 'm 1\n' });
  t.teardown(() => server.close());
  const get = async (path: string): Promise<[number, string]> => {
    const r = await fetch(`http://${address}${path}`);
    return [r.status, await r.text()];
  };
  t.same(await get('/healthz'), [200, 'ok\n']);
  t.same(await get('/readyz'), [503, 'not ready: the first full sync is not in the maps yet\n']);
  notReady = undefined;
  t.same(await get('/readyz'), [200, 'ready\n']);
  t.same(await get('/metrics?x=1'), [200, 'm 1\n']);
  t.equal((await get('/other'))[0], 404);
  await t.rejects(startOpsServer('nonsense', { notReady: () => undefined, metrics: () => '' }), /is not HOST:PORT/);
  await t.rejects(startOpsServer(address, { notReady: () => undefined, metrics: () => '' }), /cannot listen on/);
});
