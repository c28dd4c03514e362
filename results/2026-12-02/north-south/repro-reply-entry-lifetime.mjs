// Repro of the finding in this run's socket/remote rows (run as root after `npm run build`, from
// the repository: node results/2026-12-02/north-south/repro-reply-entry-lifetime.mjs). On the
// north-south bench topology, 300 short connections from outside (crr: closed with RST by the
// client) to each case's NodePort in socket mode, then slb_node_ct's entries grouped by
// direction, state, verdict and seconds left: the forward entries saw the RST (closing, 10 s),
// the reply entries did not (established, 21600 s). A source-NATed flow's reply entry is its
// claim on the node's port (61000-65535), so closed flows keep their ports for 6 hours.
import { NorthSouthTopology } from '../../../dist/src/bench/suite/north-south-topology.js';
import { ctNow } from '../../../dist/src/datapath/ct-map.js';

const topo = await NorthSouthTopology.create({ backends: 3 }, console.log);
try {
  for (const c of ['remote', 'local']) {
    const r = await topo.run('socket', c, { durationMs: 5000, max: 300 });
    const now = ctNow();
    const groups = {};
    for (const [k, e] of topo['nodeTc'].ct.entries()) {
      const g = `${c}: direction ${k.direction} state ${e.ct.state} verdict ${e.ct.verdict} expires in ${e.ct.expires - now} s`;
      groups[g] = (groups[g] ?? 0) + 1;
    }
    console.log(`${c}: ${r.transactions} connections, ${r.errors} errors`, groups);
  }
} finally {
  const left = await topo.destroy();
  if (left.length) console.log('clean-up problems:', left);
}
