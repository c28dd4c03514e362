// BPF_PROG_TEST_RUN: runs a loaded program once on a packet the caller built, in the kernel,
// with the real maps; the packet comes back as the program left it. Tests use it to check a
// tc program's rewrites byte by byte.
import { checkReturn } from './bpf-error.js';
import { libbpfStructSize, native } from './libbpf.js';

const TEST_RUN_OPTS_SIZE = libbpfStructSize('bpf_test_run_opts');
/** Room for the packet to grow (encapsulation); tc programs here never grow it by more. */
const HEADROOM = 256;

export interface TestRunResult {
  retval: number;
  packet: Buffer;
}

export function testRunPacket(progFd: number, packet: Buffer, what: string): TestRunResult {
  const out = Buffer.alloc(packet.length + HEADROOM);
  const opts = {
    sz: TEST_RUN_OPTS_SIZE,
    data_in: packet,
    data_out: out,
    data_size_in: packet.length,
    data_size_out: out.length,
    ctx_in: null,
    ctx_out: null,
    ctx_size_in: 0,
    ctx_size_out: 0,
    retval: 0,
    repeat: 1,
    duration: 0,
    flags: 0,
    cpu: 0,
    batch_size: 0,
  };
  checkReturn(native.progTestRun(progFd, opts) as number, `test run of ${what}`);
  return { retval: opts.retval | 0, packet: out.subarray(0, opts.data_size_out) };
}
