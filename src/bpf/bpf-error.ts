// Errors from libbpf and the bpf() syscall, carrying the errno and libbpf's own explanation.
import { constants } from 'node:os';
import { drainLibbpfLog, lastErrno, native, type Handle } from './libbpf.js';

const errnoName = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** What a user can do about the common failures, keyed by errno name. */
const remedies: Record<string, string> = {
  EPERM: 'run as root, or with CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_PERFMON',
  EACCES: 'the verifier or a security module refused it; see the libbpf log above',
  ENOENT: 'check that the path exists and that bpffs is mounted there',
  E2BIG: 'a map is full; remove objects or raise the map size',
  EINVAL: 'the kernel rejected the arguments; it may be too old for this feature (socklb needs Linux 5.18 or newer)',
  EOPNOTSUPP: 'the kernel lacks this feature (socklb needs Linux 5.18 or newer with CONFIG_CGROUP_BPF and BTF)',
};

export class BpfError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly libbpfLog: string[];

  constructor(operation: string, errno: number) {
    const code = errnoName.get(errno) ?? `errno ${errno}`;
    const log = drainLibbpfLog();
    const remedy = remedies[code];
    const tail = log.length > 0 ? `\nlibbpf said:\n  ${log.slice(-20).join('\n  ')}` : '';
    super(`${operation}: ${native.strerror(errno) as string} (${code})${remedy ? `; ${remedy}` : ''}${tail}`);
    this.name = 'BpfError';
    this.errno = errno;
    this.code = code;
    this.libbpfLog = log;
  }
}

/** For calls that return a negative errno on failure (libbpf 1.x convention). */
export function checkReturn(ret: number, operation: string): number {
  if (ret < 0) throw new BpfError(operation, -ret);
  return ret;
}

/** For calls that return NULL and set errno on failure. */
export function checkHandle(handle: Handle, operation: string): Handle {
  if (handle === null || handle === undefined) throw new BpfError(operation, lastErrno());
  return handle;
}
