// BPF_PROG_TEST_RUN: runs a loaded program once on a packet the caller built, in the kernel,
// with the real maps; the packet comes back as the program left it. Tests use it to check a
// tc program's rewrites byte by byte.
import { checkReturn } from './bpf-error.js';
import { libbpfStructSize, native } from './libbpf.js';

const TEST_RUN_OPTS_SIZE = libbpfStructSize('bpf_test_run_opts');
/** Room for the packet to grow (encapsulation); tc programs here never grow it by more. */
const HEADROOM = 256;

/** tc verdicts (linux/pkt_cls.h) a test run returns: TC_ACT_UNSPEC is socklb's "pass on" (tc_drop.h). */
export const TC_ACT_UNSPEC = -1;
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;

export interface TestRunResult {
  retval: number;
  packet: Buffer;
  /** Mean ns per run the kernel measured (over `repeat` runs of the same input). */
  durationNs: number;
}

/** The part of struct __sk_buff a test run may set (uapi linux/bpf.h): the device the packet
 * is on (ifindex, in the calling thread's network namespace; default its loopback) and the
 * one it came in by (ingress_ifindex), up to cb[], which starts at byte 48. */
export interface TestRunSkb {
  ifindex?: number;
  ingressIfindex?: number;
}
const SKB_INGRESS_IFINDEX = 36;
const SKB_IFINDEX = 40;
const SKB_CTX_SIZE = 48;

function skbContext(skb: TestRunSkb): Buffer {
  const ctx = Buffer.alloc(SKB_CTX_SIZE);
  ctx.writeUInt32LE(skb.ingressIfindex ?? 0, SKB_INGRESS_IFINDEX);
  ctx.writeUInt32LE(skb.ifindex ?? 0, SKB_IFINDEX);
  return ctx;
}

/** Runs the program on packet (`repeat` times, for a cost: each run starts from the same input
 * only for a program that leaves it as it is). */
export function testRunPacket(progFd: number, packet: Buffer, what: string, skb?: TestRunSkb, repeat = 1): TestRunResult {
  const out = Buffer.alloc(packet.length + HEADROOM);
  const ctx = skb ? skbContext(skb) : null;
  const opts = {
    sz: TEST_RUN_OPTS_SIZE,
    data_in: packet,
    data_out: out,
    data_size_in: packet.length,
    data_size_out: out.length,
    ctx_in: ctx,
    ctx_out: null,
    ctx_size_in: ctx?.length ?? 0,
    ctx_size_out: 0,
    retval: 0,
    repeat,
    duration: 0,
    flags: 0,
    cpu: 0,
    batch_size: 0,
  };
  checkReturn(native.progTestRun(progFd, opts) as number, `test run of ${what}`);
  return { retval: opts.retval | 0, packet: out.subarray(0, opts.data_size_out), durationNs: opts.duration };
}
