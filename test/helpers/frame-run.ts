// Running a tc program on one frame (BPF_PROG_TEST_RUN) and checking what it gave back: the
// verdict and the whole output frame, byte for byte, and which counters the run moved. Shared
// by the tests of every tc object (tc_lb, tc_node).
import type { Test } from 'tap';
import { testRunPacket, type TestRunSkb } from '../../src/bpf/prog-test-run.js';
import type { CounterName } from '../../src/datapath/counters-map.js';
import { buildFrame, type Flow } from '../../src/lab/packet-frames.js';

import { TC_ACT_UNSPEC } from '../../src/bpf/prog-test-run.js';
export { TC_ACT_REDIRECT, TC_ACT_SHOT, TC_ACT_UNSPEC } from '../../src/bpf/prog-test-run.js';

export type Counters = () => Record<CounterName, bigint>;

/** What each counter moved by while fn ran (only those that moved). */
export function countedBy(counters: Counters, fn: () => void): Partial<Record<CounterName, bigint>> {
  const before = counters();
  fn();
  const after = counters();
  return Object.fromEntries(Object.entries(after).flatMap(([k, v]) => (v !== before[k as CounterName] ? [[k, v - before[k as CounterName]]] : [])));
}

/** Runs `input` through the program and checks the verdict and the whole output frame, byte for
 * byte, against `expected` (the frame a correct rewrite gives, built from scratch). */
export function expectFrame(t: Test, what: string, fd: number, input: Buffer, verdict: number, expected: Buffer, skb?: TestRunSkb): Buffer {
  const r = testRunPacket(fd, input, what, skb);
  t.equal(r.retval, verdict, `${what}: verdict`);
  t.same(r.packet, expected, `${what}: the whole frame`);
  return r.packet;
}

/** f's frame goes through untouched (TC_ACT_UNSPEC), moving exactly these counters. */
export function expectPassed(t: Test, what: string, fd: number, f: Flow, counters: Counters, moved: Partial<Record<CounterName, bigint>> = {}): void {
  const frame = buildFrame(f);
  t.same(
    countedBy(counters, () => expectFrame(t, what, fd, frame, TC_ACT_UNSPEC, frame)),
    moved,
    `${what}: ${Object.keys(moved).length === 0 ? 'no counter moved' : `counted as ${Object.keys(moved).join(' and ')} only`}`,
  );
}
