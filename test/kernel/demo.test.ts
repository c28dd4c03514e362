// `socklb demo` end to end: it must show the spread and leave nothing behind.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import t from 'tap';
import { findCgroup2Root } from '../../src/bpf/kernel-env.js';
import { CLI_PATH } from '../../src/install-paths.js';

t.test('the demo balances over three backends and cleans up', async (t) => {
  const r = spawnSync(process.execPath, [CLI_PATH, 'demo', '--connections', '150'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, `demo exit status (stderr: ${r.stderr})`);
  const runId = /namespaces slb-([0-9a-f]+)-\*/.exec(r.stdout)?.[1];
  t.ok(runId, 'the demo names its run');
  for (const b of ['web-1', 'web-2', 'web-3']) t.match(r.stdout, new RegExp(`${b}:8080\\s+\\d+`), `${b} served connections`);
  t.match(r.stdout, /getpeername\(\) saw: 10\.96\.0\.10:80/);
  t.match(r.stdout, /recvfrom\(\) reported the sender as 10\.96\.0\.10:7/);
  t.match(r.stdout, /connect\(\) failed with ECONNREFUSED/);
  // From outside the cluster, through the node's uplink: the NodePort, balanced over the three.
  const outside = r.stdout.slice(r.stdout.indexOf('from outside the cluster'));
  for (const b of ['web-1', 'web-2', 'web-3']) t.match(outside, new RegExp(`${b}:8080\\s+\\d+`), `${b} served connections from outside`);
  t.match(outside, /the outside client's getpeername\(\) saw: 198\.18\.0\.1:30080/);
  t.match(r.stdout, /cleaned up: /);
  t.notMatch(r.stderr, /libbpf:/, 'no libbpf message on stderr (the start-up scan of interfaces without tc filters is expected to find none)');
  t.notMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), `slb-${runId}-`, 'no namespace left');
  t.notOk(readdirSync(findCgroup2Root()).includes(`socklb-${runId}`), 'no cgroup left');
  t.notOk(readdirSync('/sys/fs/bpf').includes(`socklb-demo-${runId}`), 'no pin left');
});
