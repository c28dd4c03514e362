// NetworkPolicy v1 on the real kernel, by truth table (the upstream netpol e2e's method;
// test/helpers/policy-truth-table.ts), in both modes: socket mode (socket hooks translate, tc
// policy programs judge, slb_pol_ct only for isolated pods) and conntrack mode (tc translates and
// judges, every flow in slb_ct). Nine pods in namespaces x, y, z on routed veths, a Service per
// pod, the agent with --network-policy; for each scenario every pod probes every pod on 8080 and
// 8081 with TCP and UDP, directly and through the target's VIP, and each of the 648 cells must
// agree with the reference evaluator run on the same objects. Allowed TCP cells also prove that
// replies of allowed connections pass (a probe needs the reply). Only allowed or not is
// compared, never how a denial shows (timeout or an error at connect).
// Plus, in both modes: an isolated pod's established connection survives an unrelated policy
// change, and one that denies it cuts the connection off (its original direction is judged on
// every packet); in socket mode: 10,000 connections between pods no policy selects leave no
// slb_pol_ct entry (conntrack mode tracks every flow by design).
import t, { type Test } from 'tap';
import { closeFd, openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { ctEntryLayout, ctKeyLayout } from '../../src/datapath/ct-map.js';
import { mapDir } from '../../src/datapath/datapath-object.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { POLICY_CT_MAP } from '../../src/datapath/policy-maps.js';
import { runProbe } from '../../src/lab/lab-processes.js';
import { KernelLab } from '../helpers/kernel-lab.js';
import { labPodName, networkPolicy, NODE_NAME, PolicyCluster, PORTS, truthTable, type PodSpec } from '../helpers/policy-truth-table.js';

const NAMESPACES = { x: { ns: 'x', tier: 'frontend' }, y: { ns: 'y', tier: 'backend' }, z: { ns: 'z' } };
/** a and b name 8080 "web", c names 8081 so: a named port resolves per destination pod. */
const POD_TEMPLATES: Omit<PodSpec, 'namespace'>[] = [
  {
    name: 'a',
    labels: { pod: 'a', app: 'web' },
    namedPorts: [
      { name: 'web', containerPort: 8080 },
      { name: 'dns', containerPort: 8081, protocol: 'UDP' },
    ],
  },
  {
    name: 'b',
    labels: { pod: 'b', app: 'db' },
    namedPorts: [
      { name: 'web', containerPort: 8080 },
      { name: 'dns', containerPort: 8081, protocol: 'UDP' },
    ],
  },
  {
    name: 'c',
    labels: { pod: 'c' },
    namedPorts: [
      { name: 'web', containerPort: 8081 },
      { name: 'dns', containerPort: 8080, protocol: 'UDP' },
    ],
  },
];

const sel = (matchLabels: Record<string, string>) => ({ matchLabels });

const RUNS = [
  ['socket', 'IPv4'],
  ['conntrack', 'IPv4'],
  ['socket', 'IPv6'],
  ['conntrack', 'IPv6'],
] as const;

for (const [mode, family] of RUNS) t.test(`NetworkPolicy truth table, ${mode} mode, ${family}, routed pods`, async (t) => {
  const pods: PodSpec[] = Object.keys(NAMESPACES).flatMap((namespace) => POD_TEMPLATES.map((p) => ({ ...p, namespace, labels: { ...p.labels } })));
  const lab = await KernelLab.create(t, pods.map(labPodName), [...PORTS], { shape: 'routed', client: false });
  const cluster = new PolicyCluster(lab, pods, NAMESPACES, family);
  const agent = lab.startAgent(['--services', lab.servicesFile, '--network-policy', '--node-name', NODE_NAME], { mode, inNodeNetns: true });
  await cluster.apply(agent);
  const ip = (ns: string, name: string): string => cluster.ipOf({ namespace: ns, name });

  /** Applies the policies (and whatever was changed before) and checks all cells. */
  const table = async (t: Test, policies: Record<string, unknown>[]): Promise<void> => {
    cluster.policies = policies;
    await cluster.apply(agent);
    const started = Date.now();
    const cells = await cluster.probeAll();
    const bad = cells.filter((c) => c.got !== c.expected);
    const allowed = cells.filter((c) => c.expected).length;
    if (bad.length > 0) t.comment(truthTable(cells));
    t.equal(bad.length, 0, `${cells.length} cells (${allowed} allowed, ${cells.length - allowed} denied) agree with the reference; probed in ${Date.now() - started} ms`);
  };

  const twoPolicies = {
    narrow: networkPolicy('y', 'b-from-x-8080', { podSelector: sel({ pod: 'b' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'x' }) }], ports: [{ port: 8080 }] }] }),
    allowAll: networkPolicy('y', 'b-allow-all', { podSelector: sel({ pod: 'b' }), ingress: [{}] }),
    narrowOut: networkPolicy('z', 'c-to-y', { podSelector: sel({ pod: 'c' }), egress: [{ to: [{ namespaceSelector: sel({ ns: 'y' }) }] }] }),
    allowAllOut: networkPolicy('z', 'c-out-all', { podSelector: sel({ pod: 'c' }), policyTypes: ['Egress'], egress: [{}] }),
  };
  const scenarios: [string, () => Record<string, unknown>[]][] = [
    ['no policy', () => []],
    ['default-deny ingress', () => [networkPolicy('x', 'deny-in', { policyTypes: ['Ingress'] })]],
    ['default-deny egress', () => [networkPolicy('x', 'deny-out', { policyTypes: ['Egress'] })]],
    ['default-deny all', () => [networkPolicy('x', 'deny-all', { policyTypes: ['Ingress', 'Egress'] })]],
    ['allow from a namespace selector', () => [networkPolicy('x', 'a-from-y', { podSelector: sel({ pod: 'a' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'y' }) }] }] })]],
    [
      'podSelector AND namespaceSelector in one peer vs two peers (OR)',
      () => [
        networkPolicy('x', 'a-and', { podSelector: sel({ pod: 'a' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'y' }), podSelector: sel({ pod: 'b' }) }] }] }),
        networkPolicy('x', 'b-or', { podSelector: sel({ pod: 'b' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'y' }) }, { podSelector: sel({ pod: 'c' }) }] }] }),
      ],
    ],
    [
      'matchExpressions (In, NotIn, Exists, DoesNotExist)',
      () => [
        networkPolicy('y', 'expr', {
          podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] },
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] },
                  podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] },
                },
                { podSelector: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] } },
              ],
            },
          ],
        }),
      ],
    ],
    [
      'ipBlock with except, ingress and egress',
      () => [
        networkPolicy('x', 'a-from-cidr', {
          podSelector: sel({ pod: 'a' }),
          ingress: [{ from: [{ ipBlock: { cidr: cluster.podNetwork, except: [cluster.prefixOf(ip('y', 'b')), cluster.prefixOf(ip('z', 'c'))] } }] }],
        }),
        networkPolicy('y', 'a-to-cidr', {
          podSelector: sel({ pod: 'a' }),
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: cluster.prefixOf(ip('z', 'a'), 2), except: [cluster.prefixOf(ip('z', 'b'))] } }] }],
        }),
      ],
    ],
    [
      'named port, resolved per destination pod',
      () => [
        networkPolicy('z', 'named', { ingress: [{ ports: [{ port: 'web' }, { protocol: 'UDP', port: 'dns' }] }] }),
        networkPolicy('x', 'named-out', { podSelector: sel({ pod: 'b' }), egress: [{ ports: [{ port: 'web' }] }] }),
      ],
    ],
    [
      'endPort range',
      () => [
        networkPolicy('y', 'range', {
          ingress: [
            {
              ports: [
                { protocol: 'TCP', port: 8081, endPort: 8090 },
                { protocol: 'UDP', port: 8000, endPort: 8080 },
              ],
            },
          ],
        }),
        networkPolicy('z', 'range-out', { podSelector: sel({ pod: 'a' }), egress: [{ ports: [{ protocol: 'TCP', port: 8079, endPort: 8080 }] }] }),
      ],
    ],
    [
      'protocol-only port',
      () => [
        networkPolicy('x', 'udp-only', { ingress: [{ ports: [{ protocol: 'UDP' }] }] }),
        networkPolicy('z', 'tcp-out', { podSelector: sel({ pod: 'b' }), egress: [{ ports: [{ protocol: 'TCP' }] }] }),
      ],
    ],
    [
      'egress denied on the client even when the server allows',
      () => [
        networkPolicy('x', 'a-out-z', { podSelector: sel({ pod: 'a' }), egress: [{ to: [{ namespaceSelector: sel({ ns: 'z' }) }] }] }),
        networkPolicy('y', 'a-from-xa', { podSelector: sel({ pod: 'a' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'x' }), podSelector: sel({ pod: 'a' }) }] }] }),
      ],
    ],
    ['two policies where an allow-all wins', () => [twoPolicies.narrow, twoPolicies.allowAll, twoPolicies.narrowOut, twoPolicies.allowAllOut]],
    ['a policy deleted (the allow-alls of the last scenario)', () => [twoPolicies.narrow, twoPolicies.narrowOut]],
  ];
  for (const [name, policies] of scenarios) await t.test(name, (t) => table(t, policies()));

  await t.test('a pod’s and a namespace’s labels changed', async (t) => {
    const policies = [networkPolicy('x', 'web-from-backend', { podSelector: sel({ app: 'web' }), ingress: [{ from: [{ namespaceSelector: sel({ tier: 'backend' }) }] }] })];
    await t.test('before', (t) => table(t, policies));
    cluster.setPodLabels({ namespace: 'x', name: 'c' }, { pod: 'c', app: 'web' });
    cluster.namespaces.set('z', { ns: 'z', tier: 'backend' });
    await t.test('x/c labelled app=web, z labelled tier=backend', (t) => table(t, policies));
    cluster.setPodLabels({ namespace: 'x', name: 'a' }, { pod: 'a' });
    cluster.namespaces.set('y', { ns: 'y' });
    await t.test('x/a and y lose those labels', (t) => table(t, policies));
  });

  const ctEntriesBetween = (a: string, b: string): Set<string> => {
    const fd = openPinned(`${mapDir(lab.bpffs)}/${pinName(POLICY_CT_MAP)}`);
    try {
      const entries = new TypedMap(POLICY_CT_MAP, fd, ctKeyLayout, ctEntryLayout).entries();
      return new Set(entries.filter(([k]) => (k.src === a && k.dst === b) || (k.src === b && k.dst === a)).map(([k]) => JSON.stringify(k)));
    } finally {
      closeFd(fd);
    }
  };

  // The runs below need no second family: they are about flow state, not verdicts.
  if (family === 'IPv6') return;

  await t.test('10,000 connections between pods no policy selects: no slb_pol_ct entry', { skip: mode === 'conntrack' && 'conntrack mode tracks every flow (slb_ct)' }, async (t) => {
    // x is isolated both ways, x/a takes y/a in: the tc programs judge and track flows.
    cluster.policies = [
      networkPolicy('x', 'deny-all', { policyTypes: ['Ingress', 'Egress'] }),
      networkPolicy('x', 'a-from-ya', { podSelector: sel({ pod: 'a' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'y' }), podSelector: sel({ pod: 'a' }) }] }] }),
    ];
    await cluster.apply(agent);
    const [ya, yb, xa] = [ip('y', 'a'), ip('y', 'b'), ip('x', 'a')];
    // Entries earlier scenarios left (y was isolated in some) may still live: count new ones.
    const before = ctEntriesBetween(ya, yb);
    const r = await runProbe(lab.net, labPodName({ namespace: 'y', name: 'a' }), { mode: 'tcp', host: yb, port: 8080, count: 10_000, concurrency: 16, timeoutMs: 3000 });
    t.equal(r.ok, 10_000, `y/a → y/b: 10,000 connections in ${r.elapsedMs} ms (errors ${JSON.stringify(r.errors)})`);
    const created = [...ctEntriesBetween(ya, yb)].filter((k) => !before.has(k));
    t.equal(created.length, 0, 'no slb_pol_ct entry for them');
    // The control: the same read sees the entries of an isolated pod's flows.
    const isolatedBefore = ctEntriesBetween(ya, xa);
    const iso = await runProbe(lab.net, labPodName({ namespace: 'y', name: 'a' }), { mode: 'tcp', host: xa, port: 8080, count: 100, concurrency: 4, timeoutMs: 3000 });
    t.equal(iso.ok, 100, 'y/a → x/a (isolated both ways, allowed in): 100 connections');
    const isolatedNew = [...ctEntriesBetween(ya, xa)].filter((k) => !isolatedBefore.has(k)).length;
    t.ok(isolatedNew >= 100, `... which do have entries (${isolatedNew} new)`);
  });

  await t.test('an established allowed connection to an isolated pod survives an unrelated policy change', async (t) => {
    const xaFromYa = networkPolicy('x', 'a-from-ya', {
      podSelector: sel({ pod: 'a' }),
      ingress: [{ from: [{ namespaceSelector: sel({ ns: 'y' }), podSelector: sel({ pod: 'a' }) }] }],
    });
    cluster.policies = [xaFromYa];
    await cluster.apply(agent);
    const persistent = () =>
      runProbe(lab.net, labPodName({ namespace: 'y', name: 'a' }), {
        mode: 'tcp-persistent',
        host: cluster.vipOf({ namespace: 'x', name: 'a' }),
        port: 80,
        count: 100_000,
        durationMs: 4000,
        intervalMs: 20,
        timeoutMs: 400,
      });
    // Changes the policies once the probe's one connection is accepted, so the change lands
    // inside the connection's life however slowly the probe process starts.
    const change = async (accepted: number, policies: Record<string, unknown>[]): Promise<number> => {
      const until = Date.now() + 10_000;
      while ((await lab.backendAccepted('x-a')) === accepted && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      cluster.policies = policies;
      await cluster.apply(agent);
      return Date.now();
    };
    let accepted = await lab.backendAccepted('x-a');
    const [kept, unrelatedAt] = await Promise.all([persistent(), change(accepted, [xaFromYa, networkPolicy('z', 'deny-all', { policyTypes: ['Ingress', 'Egress'] })])]);
    const last = kept.replyTimes['x-a:8080']?.last ?? 0;
    t.same(kept.errors, {}, `one connection through the VIP, no error across the change (${kept.ok} replies)`);
    t.ok(last > unrelatedAt + 500, `replies went on after the change (last ${last - unrelatedAt} ms after it)`);
    // The control: a change that denies it stops the same kind of connection (the original
    // direction is judged again), so the probe above could have failed.
    accepted = await lab.backendAccepted('x-a');
    const [cut, cutAt] = await Promise.all([
      persistent(),
      change(accepted, [networkPolicy('x', 'a-from-z', { podSelector: sel({ pod: 'a' }), ingress: [{ from: [{ namespaceSelector: sel({ ns: 'z' }) }] }] })]),
    ]);
    t.ok(cut.ok > 0, `the connection had replies before the change (${cut.ok})`);
    const cutLast = (cut.replyTimes['x-a:8080']?.last ?? 0) - cutAt;
    // x/a's own answers are known as answers (the entry its replies need is written when y/a's
    // flow opens), so y/a's packets are judged on every packet and the change cuts them off.
    t.ok(
      Object.keys(cut.errors).length > 0 && cutLast < 1000,
      `after a change that denies it, the connection fails (errors ${JSON.stringify(cut.errors)}, last reply ${cutLast} ms after the change)`,
    );
  });
});
