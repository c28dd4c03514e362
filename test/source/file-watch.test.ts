import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { watchFile } from '../../src/source/file-watch.js';

const dir = mkdtempSync(join(tmpdir(), 'socklb-watch-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function nextCall(calls: { n: number }, timeoutMs: number): Promise<boolean> {
  const start = calls.n;
  return new Promise((resolve) => {
    const until = Date.now() + timeoutMs;
    const tick = setInterval(() => {
      if (calls.n > start || Date.now() > until) {
        clearInterval(tick);
        resolve(calls.n > start);
      }
    }, 5);
  });
}

t.test('in-place writes, atomic replacements and deletion are all noticed, coalesced', async (t) => {
  const file = join(dir, 'a.yaml');
  writeFileSync(file, 'one');
  const calls = { n: 0 };
  const stop = watchFile(file, () => calls.n++, { debounceMs: 20, pollMs: 10_000 });
  t.teardown(stop);
  writeFileSync(file, 'two');
  writeFileSync(file, 'three');
  t.ok(await nextCall(calls, 2000), 'an in-place write');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(calls.n, 1, 'two quick writes make one callback');
  writeFileSync(`${file}.tmp`, 'four');
  renameSync(`${file}.tmp`, file);
  t.ok(await nextCall(calls, 2000), 'a rename over the file');
  rmSync(file);
  t.ok(await nextCall(calls, 2000), 'deletion');
  writeFileSync(join(dir, 'other'), 'x');
  t.notOk(await nextCall(calls, 200), 'another file in the directory is ignored');
});

t.test('a file written in place is reported once it holds still, not half-written', async (t) => {
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'start');
  const calls = { n: 0 };
  const stop = watchFile(file, () => calls.n++, { debounceMs: 40, pollMs: 10_000 });
  t.teardown(stop);
  // A slow writer: truncate, then a piece every 15 ms, for 150 ms.
  writeFileSync(file, '');
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 15));
    appendFileSync(file, `piece ${i}\n`);
  }
  t.equal(calls.n, 0, 'nothing reported while the writer keeps writing');
  t.ok(await nextCall(calls, 2000), 'reported once it stopped');
});

t.test('a replacement of the same size is noticed by its inode and mtime', async (t) => {
  const file = join(dir, 'b.yaml');
  writeFileSync(file, 'one');
  const calls = { n: 0 };
  const stop = watchFile(file, () => calls.n++, { debounceMs: 5, pollMs: 50 });
  t.teardown(stop);
  // Same size, new content: only the fingerprint (inode, size, mtime) tells.
  writeFileSync(`${file}.x`, 'two');
  renameSync(`${file}.x`, file);
  t.ok(await nextCall(calls, 2000));
});
