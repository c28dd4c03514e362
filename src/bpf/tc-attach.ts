// Attaches programs to a network interface's tc ingress or egress hook as cls_bpf filters in
// direct-action mode (libbpf's bpf_tc_* API; it creates the clsact qdisc when missing). This
// works on every kernel socklb supports, unlike tcx links (Linux 6.6+). A filter outlives the
// agent like a pinned link does; a restarted agent replaces its own filter in one step
// (BPF_TC_F_REPLACE at socklb's handle and priority) and never touches other filters.
import { BpfError, checkReturn } from './bpf-error.js';
import { constants } from 'node:os';
import { captureLibbpfLog, drainLibbpfLog, libbpfStructSize, native } from './libbpf.js';

export type TcDirection = 'ingress' | 'egress';

const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
const BPF_TC_F_REPLACE = 1;
const HOOK_SIZE = libbpfStructSize('bpf_tc_hook');
const OPTS_SIZE = libbpfStructSize('bpf_tc_opts');
const { ENOENT, EEXIST, EINVAL } = constants.errno;
/** A hook without socklb's filter answers ENOENT, or EINVAL when it has no clsact qdisc at all.
 * libbpf then prints the kernel's "Parent Qdisc doesn't exists" or "Cannot find specified filter
 * chain", which is the expected answer of a scan, not news: with libbpf's messages captured
 * (not printed on stderr), the absent case drops them. */
function absent(ret: number): boolean {
  if (ret !== -ENOENT && ret !== -EINVAL) return false;
  drainLibbpfLog();
  return true;
}

/** socklb's filter identity on every hook: handle "5c1b" (s-l-b), priority 1 (runs first):
 * the pods' interfaces' programs. The node's devices' programs have a handle of their own, so
 * a scan for one component's filters never takes the other's for its own. */
export const TC_HANDLE = 0x5c1b;
export const NODE_TC_HANDLE = 0x5c1c;
export const TC_PRIORITY = 1;

interface TcOpts {
  sz: number;
  prog_fd: number;
  flags: number;
  prog_id: number;
  handle: number;
  priority: number;
}

function hook(ifindex: number, direction: TcDirection): object {
  captureLibbpfLog();
  return { sz: HOOK_SIZE, ifindex, attach_point: direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS, parent: 0 };
}

const socklbFilter = (handle: number, progFd = 0, flags = 0): TcOpts => ({ sz: OPTS_SIZE, prog_fd: progFd, flags, prog_id: 0, handle, priority: TC_PRIORITY });

/** The interface's index in the calling thread's network namespace, or 0 when it has none. */
export function interfaceIndex(name: string): number {
  return native.ifNameToIndex(name) as number;
}

/** Attaches (or replaces) socklb's filter on the hook; returns the attached program's id. */
export function attachTc(ifindex: number, direction: TcDirection, progFd: number, what: string, handle = TC_HANDLE): number {
  const h = hook(ifindex, direction);
  const created = native.tcHookCreate(h) as number;
  if (created < 0 && -created !== EEXIST) checkReturn(created, `create the clsact qdisc on ${what}`);
  const opts = socklbFilter(handle, progFd, BPF_TC_F_REPLACE);
  checkReturn(native.tcAttach(h, opts) as number, `attach the tc ${direction} program to ${what}`);
  return opts.prog_id;
}

/** The id of the program in socklb's filter on the hook, or undefined when there is none. */
export function queryTc(ifindex: number, direction: TcDirection, what: string, handle = TC_HANDLE): number | undefined {
  const opts = socklbFilter(handle);
  const ret = native.tcQuery(hook(ifindex, direction), opts) as number;
  if (absent(ret)) return undefined;
  checkReturn(ret, `query the tc ${direction} hook of ${what}`);
  return opts.prog_id;
}

/** Removes socklb's filter from the hook; false when it was not there. The qdisc stays (others may use it). */
export function detachTc(ifindex: number, direction: TcDirection, what: string, handle = TC_HANDLE): boolean {
  const ret = native.tcDetach(hook(ifindex, direction), socklbFilter(handle)) as number;
  if (absent(ret)) return false;
  if (ret < 0) throw new BpfError(`detach the tc ${direction} program from ${what}`, -ret);
  return true;
}
