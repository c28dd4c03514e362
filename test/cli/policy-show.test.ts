// The text and JSON of `policy list`, `policy check` and `ct list`, from fixed inputs: every
// reason a side can be allowed or denied for, the port argument's forms and errors, and the
// flow lines' state, expiry, verdict bits and NAT data.
import t from 'tap';
import { describeFlow, formatFlowTables } from '../../src/cli/ct-list.js';
import { checkPolicy, formatPolicyCheck, formatPolicyList, listPolicy, parsePortSpec, withProgrammed } from '../../src/cli/policy-show.js';
import { CT_DIRECTION, CT_STATE, CT_VERDICT } from '../../src/datapath/ct-map.js';
import { fullTable } from '../../src/model/desired-tables.js';
import { PolicyInputs } from '../../src/model/policy-inputs.js';
import type { NetworkPolicyRow, PodRow } from '../../src/model/policy-objects.js';
import { labels, policy, rule } from '../model/policy/policy-fixture.js';

const NODE = { name: 'node-a', addresses: ['192.168.0.1'] };

function inputsOf(pods: PodRow[], policies: NetworkPolicyRow[]): PolicyInputs {
  const inputs = new PolicyInputs();
  inputs.pods.apply(fullTable(inputs.pods.table, pods));
  inputs.namespaces.apply(fullTable(inputs.namespaces.table, [{ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', team: 'shop' } }]));
  inputs.policies.apply(fullTable(inputs.policies.table, policies));
  return inputs;
}

const pod = (name: string, ip: string, nodeName = 'node-a'): PodRow => ({
  namespace: 'shop',
  name,
  nodeName,
  labels: { app: name },
  ips: [ip],
  namedPorts: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
});
const PODS = [pod('web', '10.0.0.5'), pod('db', '10.0.0.6'), pod('batch', '10.0.1.7', 'node-b')];
const DB_FROM_WEB = policy('shop', 'db-from-web', {
  podSelector: labels({ app: 'db' }),
  ingress: [
    rule([{ podSelector: labels({ app: 'web' }) }], [{ protocol: 'TCP', port: 'pg' }]),
    rule([{ ipBlock: { cidr: '10.9.0.0/16', except: ['10.9.1.0/24'] } }], [{ protocol: 'UDP', port: 5000, endPort: 5010 }]),
  ],
});
const WEB_NO_EGRESS = policy('shop', 'web-no-egress', { podSelector: labels({ app: 'web' }), types: ['Egress'] });

t.test('policy list: this node’s pods, their isolation, rules and identities', async (t) => {
  const listing = listPolicy(inputsOf(PODS, [DB_FROM_WEB, WEB_NO_EGRESS]), NODE);
  t.same(
    listing.pods.map((p) => p.pod),
    ['shop/db', 'shop/web'],
    'only node-a’s pods',
  );
  const text = formatPolicyList(listing);
  const [db, web] = listing.pods.map((p) => p.identity);
  t.equal(
    text,
    [
      `shop/db  10.0.0.6  identity ${db}`,
      '  ingress: isolated by shop/db-from-web',
      '    shop/db-from-web ingress rule 0: from pods app=web in namespace shop; ports TCP/pg',
      '    shop/db-from-web ingress rule 1: from ipBlock 10.9.0.0/16 except 10.9.1.0/24; ports UDP/5000-5010',
      '  egress: not isolated (no policy selects it for egress: everything is allowed)',
      `shop/web  10.0.0.5  identity ${web}`,
      '  ingress: not isolated (no policy selects it for ingress: everything is allowed)',
      '  egress: isolated by shop/web-no-egress',
      '    no rule: only replies go out',
      '',
      'IDENTITY  NAMESPACE/LABELS  PODS',
      `${String(db).padEnd(8)}  shop/app=db  shop/db`,
      `${String(web).padEnd(8)}  shop/app=web  shop/web`,
      '',
    ].join('\n'),
  );
  t.same(
    listPolicy(inputsOf(PODS, [])).pods.map((p) => p.pod),
    ['shop/batch', 'shop/db', 'shop/web'],
    'without a node: every pod',
  );
  t.equal(formatPolicyList(listPolicy(inputsOf(PODS, []), { name: 'node-z', addresses: [] })), 'no pod runs on node node-z (spec.nodeName)\n');
  const isolatedIngressOnly = formatPolicyList(listPolicy(inputsOf(PODS, [policy('shop', 'deny-all', {})]), NODE));
  t.match(isolatedIngressOnly, /ingress: isolated by shop\/deny-all\n    no rule: only replies and its own node come in\n/);
});

t.test('policy list beside the pinned endpoints', async (t) => {
  const listing = listPolicy(inputsOf(PODS, [DB_FROM_WEB]), NODE);
  const pinned = new Map([
    ['10.0.0.6', { identity: 900, ingressIsolated: true, egressIsolated: false }],
    ['10.0.0.5', { identity: 901, ingressIsolated: true, egressIsolated: false }],
  ]);
  const merged = withProgrammed(listing, pinned);
  t.match(merged.pods, [
    { pod: 'shop/db', programmed: { identity: 900 }, programmedAsModel: true },
    { pod: 'shop/web', programmed: { identity: 901 }, programmedAsModel: false },
  ]);
  const text = formatPolicyList(merged);
  t.match(text, /^shop\/db  10\.0\.0\.6  identity \d+  \(maps: identity 900\)$/m);
  t.match(text, /^shop\/web  10\.0\.0\.5  identity \d+  \(maps: identity 901, isolation differs from this model: the agent has not written the current policy\)$/m);
  t.match(formatPolicyList(withProgrammed(listing, new Map())), /^shop\/db .*  \(not in the maps\)$/m);
});

t.test('policy check: allow or deny, and why, for each kind of side', async (t) => {
  const inputs = inputsOf(PODS, [DB_FROM_WEB, WEB_NO_EGRESS]);
  const check = (from: string, to: string, port: string) => checkPolicy(inputs, from, to, port, NODE);
  const text = (from: string, to: string, port: string) => formatPolicyCheck(inputs, check(from, to, port));

  t.equal(
    text('shop/batch', 'shop/db', '5432'),
    [
      'DENY  shop/batch (10.0.1.7) → shop/db (10.0.0.6)  10.0.0.6:5432/TCP',
      '  egress of shop/batch: allowed, no policy isolates it for egress',
      '  ingress of shop/db: DENIED, isolated by shop/db-from-web and no rule of theirs allows it',
      '',
    ].join('\n'),
  );
  t.equal(
    text('10.9.0.3', 'shop/db', '5001/udp'),
    [
      'ALLOW  10.9.0.3 → shop/db (10.0.0.6)  10.0.0.6:5001/UDP',
      "  egress: allowed, the address is no pod's (policy restricts pods only)",
      '  ingress of shop/db: allowed by',
      '    shop/db-from-web ingress rule 1: from ipBlock 10.9.0.0/16 except 10.9.1.0/24; ports UDP/5000-5010',
      '',
    ].join('\n'),
    'an address as the client; the ipBlock rule named',
  );
  t.equal(check('10.9.1.3', 'shop/db', '5001/UDP').verdict.allowed, false, 'the except hole');
  t.match(
    text('shop/web', 'shop/db', '5432'),
    /^DENY .*\n  egress of shop\/web: DENIED, isolated by shop\/web-no-egress and no rule of theirs allows it\n  ingress of shop\/db: allowed by\n    shop\/db-from-web ingress rule 0: from pods app=web in namespace shop; ports TCP\/pg\n$/,
    'the named port resolved; the client’s egress denies',
  );
  t.match(text('192.168.0.1', 'shop/db', '80'), /^ALLOW .*\n.*\n  ingress of shop\/db: allowed, traffic from the pod's own node always comes in\n$/);
  t.match(text('shop/db', 'shop/db', '80'), /ingress of shop\/db: allowed, a pod's traffic to itself is not enforced/);
  t.match(check('shop/db', 'shop/batch', '80'), {
    from: { name: 'shop/db', address: '10.0.0.6' },
    to: { address: '10.0.1.7' },
    protocol: 'TCP',
    port: 80,
    verdict: { allowed: true, egress: { why: 'not-isolated' }, ingress: { why: 'not-isolated' } },
  });
  t.throws(() => check('shop/nope', 'shop/db', '80'), /no pod "shop\/nope"/);
});

t.test('--port: PORT or PORT/PROTOCOL', async (t) => {
  t.same(parsePortSpec('80'), { port: 80, protocol: 'TCP' });
  t.same(parsePortSpec('53/udp'), { port: 53, protocol: 'UDP' });
  for (const bad of ['0', '65536', 'http', '80/icmp', '80/']) t.throws(() => parsePortSpec(bad), /expected PORT or PORT\/PROTOCOL/, bad);
  t.throws(() => parsePortSpec('80/SCTP'), /no SCTP/);
});

t.test('ct list: one line per entry, state and verdict bits by name, expiry from now', async (t) => {
  const key = { src: '10.0.0.6', dst: '10.0.0.5', sport: 5432, dport: 40000, protocol: 6, direction: CT_DIRECTION.reply };
  const noNat = { address: '::', port: 0, backend_id: 0 };
  const reply = describeFlow(key, { expires: 1010, state: CT_STATE.established, verdict: CT_VERDICT.policy_allowed, nat: noNat }, 1000);
  t.same(reply, {
    src: '10.0.0.6',
    sport: 5432,
    dst: '10.0.0.5',
    dport: 40000,
    protocol: 'TCP',
    direction: 'reply',
    state: 'established',
    expiresInS: 10,
    verdict: ['policy_allowed'],
  });
  const forward = describeFlow(
    { ...key, protocol: 17, direction: CT_DIRECTION.forward, dst: '10.96.0.10', dport: 53 },
    { expires: 990, state: 0, verdict: CT_VERDICT.dnat | 0x40, nat: { address: '10.0.0.6', port: 5353, backend_id: 7 } },
    1000,
  );
  t.match(
    forward,
    { protocol: 'UDP', direction: 'forward', state: 'new', expiresInS: -10, verdict: ['dnat', '0x40'], nat: { address: '10.0.0.6', port: 5353, backendId: 7 } },
    'a bit without a name is shown in hex',
  );
  t.equal(
    formatFlowTables([
      { map: 'slb_pol_ct', flows: [reply] },
      { map: 'slb_ct', flows: [forward] },
      { map: 'slb_ct', flows: [] },
    ]),
    [
      'slb_pol_ct: 1 entry',
      '  TCP 10.0.0.6:5432 → 10.0.0.5:40000 reply  established  expires in 10 s  policy_allowed',
      'slb_ct: 1 entry',
      '  UDP 10.0.0.6:5432 → 10.96.0.10:53 forward  new  expired 10 s ago  dnat,0x40  nat 10.0.0.6:5353 backend 7',
      'slb_ct: 0 entries',
      '',
    ].join('\n'),
  );
});
