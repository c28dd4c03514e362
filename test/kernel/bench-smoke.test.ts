// A small run of each benchmark, so `npm run bench` keeps working and measures real traffic.
import t from 'tap';
import { benchControlPlane } from '../../src/bench/control-plane.js';
import { benchConnections, CONNECTION_MODES } from '../../src/bench/connection-bench.js';

t.test('short connections: every mode completes connections without errors', async (t) => {
  const r = await benchConnections({ rounds: 1, durationMs: 300, services: 50 }, () => undefined);
  t.equal(r.services, 50);
  for (const m of CONNECTION_MODES) {
    t.ok(r.modes[m].runs[0]!.connections > 50, `${m}: ${r.modes[m].runs[0]!.connections} connections in 300 ms`);
    t.equal(r.modes[m].errors, 0, `${m}: no errors`);
  }
  t.equal(r.ratioToDirect.direct, 1);
});

for (const workload of ['rr', 'udp'] as const) {
  t.test(`${workload}: one socket per mode carries many requests`, async (t) => {
    const r = await benchConnections({ rounds: 1, durationMs: 300, workload }, () => undefined);
    t.equal(r.workload, workload);
    for (const m of CONNECTION_MODES) {
      t.ok(r.modes[m].runs[0]!.connections > 100, `${m}: ${r.modes[m].runs[0]!.connections} requests in 300 ms`);
      t.equal(r.modes[m].errors, 0, `${m}: no errors`);
    }
  });
}

t.test('control plane: programs every service and times changes', async (t) => {
  const r = await benchControlPlane({ services: 50, endpoints: 3, changes: 3 }, () => undefined);
  t.equal(r.coldMapOperations, 50 * (1 + 3 + 3), 'a frontend, three slots and three backends per service');
  t.equal(r.changeMs.samples, 3);
  t.ok(r.changeMapOperations >= 3, 'a change writes at least a backend, a slot and the frontend');
});
