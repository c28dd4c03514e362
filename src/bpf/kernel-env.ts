// Where the kernel's cgroup2 and bpf filesystems are, read from /proc/mounts and never assumed:
// hybrid systems mount cgroup2 at /sys/fs/cgroup/unified, unified ones at /sys/fs/cgroup.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

interface Mount {
  source: string;
  target: string;
  fstype: string;
}

// /proc/mounts escapes spaces and other characters as octal (\040).
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function readMounts(text = readFileSync('/proc/mounts', 'utf8')): Mount[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [source = '', target = '', fstype = ''] = l.split(' ');
      return { source, target: unescapeMount(target), fstype };
    });
}

/** The first cgroup2 mount point, or a message saying what is missing. */
export function findCgroup2Root(mounts = readMounts()): string {
  const m = mounts.find((x) => x.fstype === 'cgroup2');
  if (!m) {
    throw new Error('no cgroup2 filesystem is mounted (see /proc/mounts); socklb attaches to a cgroup v2 directory. Mount one with: mount -t cgroup2 none /sys/fs/cgroup/unified');
  }
  return m.target;
}

/** The bpffs mount that contains path, or undefined. */
export function bpffsMountFor(path: string, mounts = readMounts()): string | undefined {
  const abs = resolve(path);
  return mounts
    .filter((m) => m.fstype === 'bpf' && (abs === m.target || abs.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`)))
    .map((m) => m.target)
    .sort((a, b) => b.length - a.length)[0];
}

/** Checks that a pin directory lies on bpffs; mounts bpffs at /sys/fs/bpf when that is where it belongs and nothing is mounted. */
export function ensureBpffs(pinDir: string): void {
  if (bpffsMountFor(pinDir)) return;
  const abs = resolve(pinDir);
  if (abs === '/sys/fs/bpf' || abs.startsWith('/sys/fs/bpf/')) {
    try {
      execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf'], { stdio: 'pipe' });
      return;
    } catch (err) {
      throw new Error(`bpffs is not mounted at /sys/fs/bpf and mounting it failed: ${(err as Error).message.trim()}. Run as root, or mount it: mount -t bpf bpf /sys/fs/bpf`);
    }
  }
  throw new Error(`--bpffs ${pinDir} is not on a bpf filesystem; choose a directory under a bpffs mount (e.g. /sys/fs/bpf/socklb) or mount one there: mount -t bpf bpf DIR`);
}
