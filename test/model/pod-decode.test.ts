// Pods and Namespaces as NetworkPolicy reads them: node, labels, addresses, named ports;
// namespace labels with the name label the API server sets. Each bad field is reported.
import t from 'tap';
import { decodeNamespace, decodePod } from '../../src/model/pod-decode.js';
import type { Problem } from '../../src/model/problems.js';

function pod(extra: Record<string, unknown>, meta: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'web-1', labels: { app: 'web' }, ...meta }, ...extra };
}

t.test('a pod decodes to its row', async (t) => {
  const problems: Problem[] = [];
  const row = decodePod(
    pod({
      spec: {
        nodeName: 'node-1',
        containers: [
          { name: 'a', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] },
          { name: 'b' },
          { name: 'c', ports: [{ name: 'sctp-x', containerPort: 7, protocol: 'SCTP' }] },
        ],
      },
      status: { podIP: '10.244.0.5', podIPs: [{ ip: '10.244.0.5' }, { ip: 'fd00:0::5' }] },
    }),
    problems,
  );
  t.same(problems, []);
  t.same(row, {
    namespace: 'ns',
    name: 'web-1',
    nodeName: 'node-1',
    labels: { app: 'web' },
    ips: ['10.244.0.5', 'fd00::5'],
    namedPorts: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'sctp-x', port: 7, protocol: 'SCTP' },
    ],
  });
});

t.test('an unscheduled pod without an address or ports: no node, no ips', async (t) => {
  const problems: Problem[] = [];
  t.same(decodePod(pod({}, { labels: undefined, namespace: undefined }), problems), {
    namespace: 'default',
    name: 'web-1',
    nodeName: undefined,
    labels: {},
    ips: [],
    namedPorts: [],
  });
  t.same(problems, []);
});

t.test('bad pod fields are reported and left out', async (t) => {
  const problems: Problem[] = [];
  const row = decodePod(
    pod(
      {
        spec: {
          nodeName: 5,
          containers: [
            {
              ports: [
                { name: 'HTTP', containerPort: 80 },
                { name: 'ok', containerPort: 0 },
                { name: 'udp', containerPort: 53, protocol: 'udp' },
                { name: 7, containerPort: 1 },
              ],
            },
            { ports: 'http' },
          ],
        },
        status: { podIPs: [{ ip: 'nope' }] },
      },
      { labels: { app: 1, 'ok.example.com/x': 'y', 'bad key': 'v' } },
    ),
    problems,
  );
  t.same(row, { namespace: 'ns', name: 'web-1', nodeName: undefined, labels: { 'ok.example.com/x': 'y' }, ips: [], namedPorts: [] });
  t.same(
    problems.map((p) => [p.object, p.field]),
    [
      ['Pod ns/web-1', 'spec.nodeName'],
      ['Pod ns/web-1', 'metadata.labels.app'],
      ['Pod ns/web-1', 'metadata.labels.bad key'],
      ['Pod ns/web-1', 'status.podIPs[0].ip'],
      ['Pod ns/web-1', 'spec.containers[0].ports[0].name'],
      ['Pod ns/web-1', 'spec.containers[0].ports[1].containerPort'],
      ['Pod ns/web-1', 'spec.containers[0].ports[2].protocol'],
      ['Pod ns/web-1', 'spec.containers[0].ports[3].name'],
      ['Pod ns/web-1', 'spec.containers[1].ports'],
    ],
  );
  t.match(problems[4]!.message, /only lowercase letters.*no policy can name this port/);
  const more: Problem[] = [];
  decodePod(pod({ spec: { containers: {} } }), more);
  t.same(
    more.map((p) => p.field),
    ['spec.containers'],
  );
  const unnamed: Problem[] = [];
  t.equal(decodePod({ metadata: { namespace: 'ns' } }, unnamed), undefined);
  t.same(
    unnamed.map((p) => p.field),
    ['metadata.name'],
  );
});

t.test('namespaces: labels, and kubernetes.io/metadata.name always their name', async (t) => {
  const problems: Problem[] = [];
  t.same(decodeNamespace({ metadata: { name: 'team-a', labels: { team: 'a' } } }, problems), { name: 'team-a', labels: { team: 'a', 'kubernetes.io/metadata.name': 'team-a' } });
  t.same(
    decodeNamespace({ metadata: { name: 'b', labels: { 'kubernetes.io/metadata.name': 'other' } } }, problems),
    { name: 'b', labels: { 'kubernetes.io/metadata.name': 'b' } },
    'as the API server sets it',
  );
  t.same(decodeNamespace({ metadata: { name: 'c' } }, problems), { name: 'c', labels: { 'kubernetes.io/metadata.name': 'c' } });
  t.same(problems, []);
  t.same(decodeNamespace({ metadata: { name: 'd', labels: { x: true } } }, problems)!.labels, { 'kubernetes.io/metadata.name': 'd' });
  t.same(decodeNamespace({ metadata: {} }, problems), undefined);
  t.same(
    problems.map((p) => [p.object, p.field]),
    [
      ['Namespace d', 'metadata.labels.x'],
      ['Namespace ?', 'metadata.name'],
    ],
  );
});
