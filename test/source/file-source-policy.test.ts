// The services file's Pods, Namespaces and NetworkPolicies (alone and in Lists): whole tables
// on every read, each object checked, a bad policy reported with its field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { tableOf } from '../../src/model/desired-tables.js';
import { NAMESPACES, NETWORK_POLICIES, PODS } from '../../src/model/policy-objects.js';
import { formatProblem } from '../../src/model/problems.js';
import { FileSource } from '../../src/source/file-source.js';
import { parseServicesText } from '../../src/source/services-file.js';
import { service, toYaml } from '../helpers/k8s-fixtures.js';

const pod = (name: string, ip: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: 'ns', name, labels: { app: name } },
  spec: { nodeName: 'n1', containers: [{ ports: [{ name: 'http', containerPort: 80 }] }] },
  status: { podIPs: [{ ip }] },
});
const policy = (name: string, spec: unknown, apiVersion = 'networking.k8s.io/v1'): Record<string, unknown> => ({
  apiVersion,
  kind: 'NetworkPolicy',
  metadata: { namespace: 'ns', name },
  spec,
});

t.test('Namespace and NetworkPolicy objects and Lists are read, with their apiVersions checked', async (t) => {
  const text = toYaml([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
    { apiVersion: 'v1', kind: 'NamespaceList', items: [{ metadata: { name: 'other' } }] },
    policy('a', {}),
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicyList', items: [{ metadata: { namespace: 'ns', name: 'b' }, spec: {} }] },
    policy('old', {}, 'extensions/v1beta1'),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', labels: { again: 'yes' } } },
  ]);
  const c = parseServicesText(text, 'f.yaml');
  t.same([c.namespaces.length, c.policies.length], [3, 2]);
  t.same(
    c.problems.map(formatProblem),
    [
      'NetworkPolicy ns/old: apiVersion: is "extensions/v1beta1"; socklb reads NetworkPolicy networking.k8s.io/v1, so this object is skipped',
      'Namespace ns: metadata.name: is defined twice (f.yaml: document 1 and f.yaml: document 6); the later definition is used',
    ],
    'a namespace is named without a namespace, as a Node is',
  );
});

t.test('the file source delivers the pods, namespaces and policies tables whole, with their problems', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-psrc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'services.yaml');
  const bad = policy('bad', { podSelector: {}, ingress: [{ ports: [{ port: 8080, endPort: 80 }] }] });
  writeFileSync(
    file,
    toYaml([
      service('ns', 'web', ['10.96.0.10'], [{ port: 80 }]),
      // Its cluster IP is a pod's address: refused, as before pods were read for policy.
      service('ns', 'hijack', ['10.244.0.2'], [{ port: 80 }]),
      { apiVersion: 'v1', kind: 'PodList', items: [pod('p1', '10.244.0.1'), pod('p2', '10.244.0.2')] },
      { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'p3' }, status: { podIP: 'nope' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', labels: { team: 'a' } } },
      policy('deny', { podSelector: {}, policyTypes: ['Ingress'] }),
      bad,
    ]),
  );
  const source = new FileSource(file, pino({ level: 'silent' }), { localAddresses: () => [] });
  source.start(() => undefined);
  t.teardown(() => source.stop());
  const update = source.take()!;
  t.same(
    update.tables.map((u) => [u.table.name, u.kind]),
    [
      ['services', 'full'],
      ['pods', 'full'],
      ['namespaces', 'full'],
      ['networkpolicies', 'full'],
    ],
  );
  const rows = <R>(table: { name: string; rowId(r: R): string }): R[] => {
    const u = tableOf(update, table)!;
    return u.kind === 'full' ? u.rows : [];
  };
  t.same(
    rows(PODS).map((p) => [p.name, p.ips, p.namedPorts.map((n) => n.name)]),
    [
      ['p1', ['10.244.0.1'], ['http']],
      ['p2', ['10.244.0.2'], ['http']],
      ['p3', [], []],
    ],
  );
  t.same(rows(NAMESPACES), [{ name: 'ns', labels: { team: 'a', 'kubernetes.io/metadata.name': 'ns' } }]);
  t.same(
    rows(NETWORK_POLICIES).map((p) => [p.name, p.policyTypes, p.ingress.length]),
    [
      ['deny', ['Ingress'], 0],
      ['bad', ['Ingress'], 0],
    ],
    'the bad policy still isolates, and its bad rule allows nothing',
  );
  const problems = source.problems().map(formatProblem);
  t.ok(problems.includes('NetworkPolicy ns/bad: spec.ingress[0].ports[0].endPort: is 80; the range ends before its port 8080; endPort is at least port'), problems.join('\n'));
  t.ok(problems.includes('Pod ns/p3: status.podIP: is "nope"; expected an IPv4 or IPv6 address'), 'a pod address problem is reported');
  t.equal(problems.filter((p) => p.startsWith('Pod ns/p3')).length, 1, 'once, though both the services index and the policy rows read pods');
  t.ok(
    problems.some((p) => /^Service ns\/hijack: .*10.244.0.2 is the address of Pod ns\/p2/.test(p)),
    'cluster IPs are still checked against pod addresses',
  );
});
