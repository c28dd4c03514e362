// Reads a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 counters, summed over CPUs.
import { checkReturn } from './bpf-error.js';
import { native } from './libbpf.js';

export function readPerCpuU64Sums(fd: number, entries: number, mapName: string): bigint[] {
  const cpus = checkReturn(native.numPossibleCpus() as number, 'libbpf_num_possible_cpus');
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(8 * cpus); // per-CPU values are 8-byte aligned slots
  const sums: bigint[] = [];
  for (let i = 0; i < entries; i++) {
    key.writeUInt32LE(i);
    checkReturn(native.mapLookupElem(fd, key, value) as number, `lookup of entry ${i} in ${mapName}`);
    let sum = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) sum += value.readBigUInt64LE(cpu * 8);
    sums.push(sum);
  }
  return sums;
}
