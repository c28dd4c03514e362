// Kernel BPF statistics: how long each program ran and how often (struct bpf_prog_info's
// run_time_ns and run_cnt), what `bpftool prog show` prints with kernel.bpf_stats_enabled=1.
// Statistics are turned on through BPF_ENABLE_STATS rather than the sysctl: the kernel counts
// the holders of that fd, so a run neither changes what the sysctl was set to nor turns
// statistics off under another user of them, and a process that dies gives its hold back.
import { closeSync } from 'node:fs';
import { checkReturn } from './bpf-error.js';
import { native } from './libbpf.js';

/** enum bpf_stats_type: BPF_STATS_RUN_TIME. */
const BPF_STATS_RUN_TIME = 0;

// struct bpf_prog_info (include/uapi/linux/bpf.h): name[16] at 64, run_time_ns and run_cnt at
// 192 and 200. The kernel fills as much as it has and wants the rest of a longer buffer zero.
const PROG_INFO_SIZE = 256;
const NAME_OFFSET = 64;
const RUN_TIME_OFFSET = 192;
const RUN_CNT_OFFSET = 200;

export interface ProgStats {
  id: number;
  name: string;
  runTimeNs: bigint;
  runCount: bigint;
}

/** Turns run-time statistics on until the returned function is called. */
export function enableRunTimeStats(): () => void {
  const fd = checkReturn(native.enableStats(BPF_STATS_RUN_TIME) as number, 'enable BPF run-time statistics (BPF_ENABLE_STATS; needs CAP_SYS_ADMIN)');
  return () => closeSync(fd);
}

/** The statistics of the loaded program with this id. */
export function progStats(id: number): ProgStats {
  const fd = checkReturn(native.progGetFdById(id) as number, `open BPF program id ${id}`);
  try {
    const info = Buffer.alloc(PROG_INFO_SIZE);
    checkReturn(native.objGetInfoByFd(fd, info, [info.length]) as number, `read the statistics of BPF program id ${id}`);
    return {
      id,
      name: info.subarray(NAME_OFFSET, NAME_OFFSET + 16).toString('latin1').replace(/\0.*$/s, ''),
      runTimeNs: info.readBigUInt64LE(RUN_TIME_OFFSET),
      runCount: info.readBigUInt64LE(RUN_CNT_OFFSET),
    };
  } finally {
    closeSync(fd);
  }
}
