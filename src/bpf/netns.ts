// Runs synchronous code in another network namespace: setns(2) on the calling (main) thread,
// then back. Network namespaces are per thread, and koffi's synchronous calls run on the
// thread that makes them, so every libbpf call and interface lookup inside fn sees the
// namespace; nothing asynchronous may run inside fn, and the original namespace is restored
// even when fn throws. The lab uses it to attach tc programs to interfaces in its namespaces.
import { closeSync, openSync } from 'node:fs';
import { BpfError } from './bpf-error.js';
import { lastErrno, native } from './libbpf.js';

const CLONE_NEWNET = 0x40000000;

function enter(fd: number, what: string): void {
  if ((native.setns(fd, CLONE_NEWNET) as number) !== 0) throw new BpfError(`enter network namespace ${what}`, lastErrno());
}

/** path: a namespace file, e.g. /run/netns/<name> as `ip netns add` makes it. */
export function inNetns<T>(path: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(path, 'r');
    try {
      enter(target, path);
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      enter(home, 'of this process (returning)');
    }
  } finally {
    closeSync(home);
  }
}
