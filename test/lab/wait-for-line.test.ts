// waitForLine on the order Node delivers a child's events in: 'exit' may come before the last
// stdout chunk (seen in CI: a crr client's result line was lost), and a process the child
// started may hold its output open after it exited.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import t from 'tap';
import { waitForLine } from '../../src/lab/lab-processes.js';

function fakeChild(): ChildProcess & { stdout: PassThrough; stderr: PassThrough } {
  const child = new EventEmitter() as ChildProcess & { stdout: PassThrough; stderr: PassThrough };
  Object.assign(child, { stdout: new PassThrough(), stderr: new PassThrough() });
  return child;
}

t.test('a line read after the exit event still resolves', async (t) => {
  const child = fakeChild();
  const line = waitForLine(child, /^\{/, 5_000, 'client');
  child.emit('exit', 0);
  child.stdout.write('{"connections":1}\n');
  await new Promise((r) => setImmediate(r));
  child.emit('close', 0);
  t.equal(await line, '{"connections":1}');
});

t.test('an exit whose streams then close without the line rejects, with the exit code and stderr', async (t) => {
  const child = fakeChild();
  const line = waitForLine(child, /^\{/, 5_000, 'client');
  child.stderr.write('bad address\n');
  await new Promise((r) => setImmediate(r));
  child.emit('exit', 2);
  child.emit('close', 2);
  await t.rejects(line, /client exited \(code 2\) before printing .*bad address/);
});

t.test('an exit whose streams stay open (held by a process it started) rejects after a grace period', async (t) => {
  const child = fakeChild();
  const started = Date.now();
  const line = waitForLine(child, /^\{/, 60_000, 'server');
  child.emit('exit', 1);
  await t.rejects(line, /server exited \(code 1\)/);
  t.ok(Date.now() - started < 10_000, 'well before the overall timeout');
});

t.test('no line and no exit: the timeout', async (t) => {
  const child = fakeChild();
  await t.rejects(waitForLine(child, /^\{/, 50, 'client'), /client did not print .* within 50 ms/);
});
