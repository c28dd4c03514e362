// The status file the agent publishes for `socklb service list`: written only when the failures
// change, atomically, read back only while its writer lives; and the listing built from it.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readAgentStatus, removeStaleStatusFiles, StatusFile, statusFilePath } from '../../src/cli/agent-status.js';
import { formatServiceTable, withStatus, type ListedService } from '../../src/cli/service-list.js';
import type { FrontendFailure } from '../../src/datapath/retry-queue.js';

const failure = (frontend: string, extra: Partial<FrontendFailure> = {}): FrontendFailure => ({
  frontend,
  owner: 'ns/web',
  want: { frontend: { address: '10.96.0.1', port: 80, protocol: 'TCP' }, backends: [], owner: 'ns/web' },
  reason: 'map_full',
  message: 'update of map slb_frontends: Argument list too long (E2BIG)',
  attempts: 2,
  retryAt: 10_000,
  ...extra,
});

t.test('published, read back while the writer lives, removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-status-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bpffs = join(dir, 'bpffs');
  const status = new StatusFile(bpffs, join(dir, 'run'));
  t.equal(status.path, statusFilePath(`${bpffs}/`, join(dir, 'run')), 'named after the resolved directory');
  t.equal(readAgentStatus(bpffs, join(dir, 'run')), undefined, 'no file: no agent');
  status.publish([failure('10.96.0.1|80|TCP')]);
  t.match(readAgentStatus(bpffs, join(dir, 'run')), {
    pid: process.pid,
    failing: [{ frontend: '10.96.0.1|80|TCP', reason: 'map_full', attempts: 2, retryAt: 10_000, removal: false }],
  });
  const written = statSync(status.path).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  status.publish([failure('10.96.0.1|80|TCP')]);
  t.equal(statSync(status.path).mtimeMs, written, 'the same failures are not written again');
  t.same(
    readdirSync(join(dir, 'run')).filter((n) => n.endsWith('.tmp')),
    [],
    'no temporary file is left',
  );
  status.remove();
  t.notOk(existsSync(status.path));
});

t.test('a file whose writer is gone, or whose bpffs directory is, is stale', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-status-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const live = new StatusFile(dir, dir);
  live.publish([]);
  const dead = statusFilePath(join(dir, 'other'), dir);
  writeFileSync(dead, JSON.stringify({ bpffs: dir, pid: 0x7ffffff0, updatedAt: 0, failing: [] }));
  const gone = statusFilePath(join(dir, 'gone'), dir);
  writeFileSync(gone, JSON.stringify({ bpffs: join(dir, 'gone'), pid: process.pid, updatedAt: 0, failing: [] }));
  writeFileSync(join(dir, 'junk.json'), 'not json');
  t.equal(readAgentStatus(join(dir, 'other'), dir), undefined, 'a dead writer says nothing');
  t.same(removeStaleStatusFiles(dir).sort(), [dead, gone, join(dir, 'junk.json')].sort());
  t.ok(existsSync(live.path), "a live agent's file stays");
  t.same(removeStaleStatusFiles(join(dir, 'absent')), []);
});

t.test('the listing: ok, failing in the maps, failing and not added; removals are not listed as new', async (t) => {
  const programmed: ListedService[] = [
    { id: 1, frontend: { address: '10.96.0.1', port: 80, protocol: 'TCP' }, backends: [{ id: 1, address: '10.244.0.1', port: 8080 }], missing: 0 },
    { id: 2, frontend: { address: '10.96.0.2', port: 53, protocol: 'UDP' }, backends: [], missing: 0 },
  ];
  const agent = {
    bpffs: '/x',
    pid: process.pid,
    updatedAt: 0,
    failing: [
      { frontend: '10.96.0.2|53|UDP', owner: 'ns/dns', reason: 'map_error' as const, attempts: 1, lastError: 'ENOMEM', retryAt: 1500, removal: false },
      { frontend: '10.96.0.3|80|TCP', owner: 'ns/big', reason: 'unsupported' as const, attempts: 1, lastError: 'has 70000 endpoints', retryAt: null, removal: false },
      { frontend: '10.96.0.9|80|TCP', owner: '(removed service)', reason: 'map_error' as const, attempts: 3, lastError: 'EBUSY', retryAt: 2000, removal: true },
    ],
  };
  const listed = withStatus(programmed, agent, 1000);
  t.match(listed, [
    { id: 1, status: { state: 'ok' } },
    { id: 2, status: { state: 'failing', reason: 'map_error', retryInMs: 500 } },
    { id: null, frontend: { address: '10.96.0.3', port: 80, protocol: 'TCP' }, status: { state: 'failing', reason: 'unsupported', retryInMs: null } },
  ]);
  t.equal(listed.length, 3, 'a failed removal of a frontend no longer in the maps is not listed');
  const table = formatServiceTable(listed);
  t.match(table, /^ID\s+FRONTEND\s+STATUS\s+BACKENDS\n/);
  t.match(table, /\n2\s+10\.96\.0\.2:53\/UDP\s+map_error, 1 attempt, retry in 0\.5 s\s+\(no endpoints: connections are refused\)\n/);
  t.match(table, /\n-\s+10\.96\.0\.3:80\/TCP\s+unsupported, 1 attempt, not retried until its input changes\s+\(not in the maps\)\n/);
  t.match(table, /\n10\.96\.0\.3:80\/TCP \(ns\/big\): has 70000 endpoints\n/);
  t.match(withStatus(programmed, undefined), [{ status: { state: 'unknown' } }, { status: { state: 'unknown' } }]);
  t.match(formatServiceTable(withStatus(programmed, undefined)), /^ID\s+FRONTEND\s+BACKENDS\n1 /, 'no STATUS column without failures');
});
