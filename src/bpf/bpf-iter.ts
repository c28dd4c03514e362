// A BPF iterator program (SEC("iter/...")): attached once to a bpf_link, then run as often as
// needed. Each run is bpf_iter_create() on the link and a read of the new fd to its end; the
// program runs once per object while the read goes on, and what it writes with bpf_seq_write
// is what the read returns. Iterators over sockets see the network namespace of the thread that
// creates the fd, so a caller runs run() inside inNetns() to pick the namespace.
import { closeSync, readSync } from 'node:fs';
import { checkHandle, checkReturn } from './bpf-error.js';
import { native } from './libbpf.js';
import type { LoadedProgram } from './bpf-object.js';

const READ_CHUNK = 64 * 1024;
/** The kernel stops a read after a million objects without output (EAGAIN): read again, a bounded number of times. */
const MAX_EMPTY_READS = 1000;

export interface BpfIterator {
  /** Runs the program over every object and returns what it wrote. */
  run(): Buffer;
  close(): void;
}

export function attachIterator(prog: LoadedProgram): BpfIterator {
  const link = checkHandle(native.programAttachIter(prog.handle, null), `attach iterator ${prog.name} (${prog.section})`);
  const linkFd = native.linkFd(link) as number;
  let open = true;
  return {
    run() {
      const fd = checkReturn(native.iterCreate(linkFd) as number, `start iterator ${prog.name}`);
      try {
        const chunks: Buffer[] = [];
        for (let emptyReads = 0; ; ) {
          const buf = Buffer.alloc(READ_CHUNK);
          let n: number;
          try {
            n = readSync(fd, buf);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++emptyReads > MAX_EMPTY_READS) throw err;
            continue;
          }
          if (n === 0) return Buffer.concat(chunks);
          chunks.push(buf.subarray(0, n));
        }
      } finally {
        closeSync(fd);
      }
    },
    close() {
      if (open) native.linkDestroy(link);
      open = false;
    },
  };
}
