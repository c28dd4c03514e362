// One agent per pin directory: an exclusive flock(2) on the --bpffs directory itself, held for
// the agent's life. Two agents on the same pins would each write the maps from their own view
// (and undo each other's writes); the second one stops at start and names the first. The lock
// is on the directory (bpffs is shared by every container that mounts it, unlike /run), it goes
// with the process however it ends, and /proc/locks tells who holds it.
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { lastErrno, native } from './libbpf.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

export interface BpffsLock {
  release(): void;
}

/** dev_t as the kernel encodes it for user space (new_encode_dev), split as /proc/locks prints it. */
function devText(dev: number): string {
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/** PIDs holding a flock on the file (as /proc/locks shows them: 0 when the holder is in a PID namespace this one cannot see). */
export function flockHolders(path: string, locks = readFileSync('/proc/locks', 'utf8')): number[] {
  const st = statSync(path);
  const id = `${devText(st.dev)}:${st.ino}`;
  return locks
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === 'FLOCK' && f[5] === id)
    .map((f) => Number(f[4]));
}

/** Takes the lock on dir (created if missing), or throws naming the agent that holds it. */
export function lockBpffs(dir: string): BpffsLock {
  mkdirSync(dir, { recursive: true });
  const fd = openSync(dir, 'r');
  if ((native.flock(fd, LOCK_EX | LOCK_NB) as number) !== 0) {
    const errno = lastErrno();
    const holders = errno === EWOULDBLOCK ? flockHolders(dir).filter((pid) => pid !== process.pid) : [];
    closeSync(fd);
    if (errno !== EWOULDBLOCK) throw new Error(`cannot lock --bpffs ${dir} (flock: errno ${errno})`);
    const who = holders.length > 0 && holders[0] !== 0 ? `PID ${holders.join(', ')}` : 'a process in another PID namespace';
    throw new Error(`another socklb agent (${who}) is running on --bpffs ${dir}: two agents would write the same maps. Stop it first, or give this agent another --bpffs`);
  }
  let held = true;
  return {
    release() {
      if (held) closeSync(fd); // closing the last fd of the open file releases the flock
      held = false;
    },
  };
}
