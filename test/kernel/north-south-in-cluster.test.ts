// North-south service addresses reached from inside the cluster, on the real kernel, in both
// modes: a NodePort on the node's own addresses and an externalIP are balanced for the pods'
// connections as kube-proxy balances them (all endpoints), getpeername shows the address the
// client asked for, and the address's other ports are not refused: they go where they were
// sent (the node answers for its own address; the externalIP, which nothing in this lab holds,
// ends at the node, which has no route for it, as it would without socklb). A cluster IP's other ports stay
// refused (undefined-ports.test.ts).
import t, { type Test } from 'tap';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { VIP_FLAGS } from '../../src/datapath/vips-map.js';
import { run } from '../../src/lab/command.js';
import { NODE_V4, NODE_V6 } from '../../src/lab/pod-network.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices } from '../helpers/k8s-fixtures.js';
import { node, nsService } from '../helpers/ns-fixtures.js';

const BACKENDS = ['be-1', 'be-2'];
const NODE_PORT = 30080;
/** TEST-NET addresses: no namespace of the lab holds or routes them. */
const EXTERNAL_IPS = ['192.0.2.10', '2001:db8::10'];

for (const mode of ['socket', 'conntrack'] as const) {
  t.test(`NodePorts and externalIPs for in-cluster clients (${mode} mode)`, async (t) => {
    const lab = await KernelLab.create(t, BACKENDS, [8080]);
    lab.writeServices([
      nsService('ns', 'web', ['10.96.0.10', 'fd00:96::10'], [{ name: 'http', port: 80, targetPort: 8080, nodePort: NODE_PORT }], {
        type: 'NodePort',
        externalIPs: EXTERNAL_IPS,
        externalTrafficPolicy: 'Local',
      }),
      ...dualStackSlices(
        'ns',
        'web',
        [{ name: 'http', port: 8080 }],
        BACKENDS.map((b) => lab.pod(b)),
      ),
      // This node's addresses come from its Node object (--node-name).
      node('node-a', [NODE_V4, NODE_V6]),
    ]);
    // The client's route to the externalIPs, as a pod's default route would be: via the node,
    // which has none further (conntrack mode's tc sees only packets that leave the pod).
    for (const address of EXTERNAL_IPS) {
      const v6 = address.includes(':');
      run('ip', ['-n', lab.pod('client').netns, ...(v6 ? ['-6'] : []), 'route', 'add', address, 'via', v6 ? NODE_V6 : NODE_V4]);
    }
    const agent = lab.startAgent(['--services', lab.servicesFile, '--node-name', 'node-a'], { mode, inNodeNetns: mode === 'conntrack' });
    // Cluster IPs, externalIPs, node addresses: 2 + 2 + 2 frontends.
    t.match(await agent.nextSync(), { frontendsAdded: 6, errors: 0, vips: 6 });
    const dp = openPinnedDatapath(lab.bpffs);
    t.teardown(() => dp.close());
    const refused = (): bigint => dp.maps.counters().port_refused;

    t.test('the addresses are known to the programs with their other ports passing', async (t) => {
      for (const address of [NODE_V4, NODE_V6, ...EXTERNAL_IPS]) t.same(dp.maps.vips.get({ words: address }), { flags: VIP_FLAGS.otherPortsPass }, address);
      t.same(dp.maps.vips.get({ words: '10.96.0.10' }), { flags: 0 }, "a cluster IP's other ports stay refused");
    });

    const balanced = async (t: Test, host: string, port: number): Promise<void> => {
      const r = await lab.probe({ mode: 'tcp', host, port, count: 40, concurrency: 2, timeoutMs: 3000 });
      t.same(Object.keys(byBackend(r)).sort(), BACKENDS, `${host}:${port} reaches both backends, eTP Local or not (errors: ${JSON.stringify(r.errors)})`);
      t.equal(r.ok, 40);
      t.same(Object.keys(r.peers), [`${host}:${port}`], 'getpeername shows the address asked for');
    };

    t.test("a NodePort on the node's addresses is balanced", async (t) => {
      for (const host of [NODE_V4, NODE_V6]) await balanced(t, host, NODE_PORT);
    });

    t.test('an externalIP is balanced on the service port', async (t) => {
      for (const host of EXTERNAL_IPS) await balanced(t, host, 80);
    });

    t.test("the node's other ports reach the node, not a refusal of socklb's", async (t) => {
      for (const host of [NODE_V4, NODE_V6]) {
        const before = refused();
        // Nothing listens on the node there: its own kernel answers with a reset.
        const r = await lab.probe({ mode: 'tcp', host, port: NODE_PORT + 1, count: 3, timeoutMs: 3000 });
        t.same(r.errors, { ECONNREFUSED: 3 }, `${host}:${NODE_PORT + 1} refused by the node`);
        t.equal(refused() - before, 0n, 'not by the programs');
      }
    });

    t.test("an externalIP's other ports go where they were sent", async (t) => {
      for (const host of EXTERNAL_IPS) {
        const before = refused();
        const r = await lab.probe({ mode: 'tcp', host, port: 81, count: 2, timeoutMs: 1500 });
        t.equal(r.ok, 0, `${host}:81 is not served`);
        t.notOk('ECONNREFUSED' in r.errors && refused() > before, `not refused by the programs (errors: ${JSON.stringify(r.errors)})`);
        t.equal(refused() - before, 0n);
      }
    });
  });
}
