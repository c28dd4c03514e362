// Which processes have a file open for writing, from /proc. A services file written in place
// (`kubectl get ... -o yaml > file`, `(sleep 1; cat new) > file`) is incomplete for as long as
// its writer holds it open, however long the writer pauses; the quiet-interval rule alone
// cannot tell a pause from the end. Only processes this one can see count: in a container
// without the host's PID namespace, a writer outside it is invisible (the other guards, the
// empty-file and cut-line checks and the quiet interval, still apply).
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

export interface FileWriter {
  pid: number;
  command: string;
}

const O_ACCMODE = 0o3;
const O_RDONLY = 0;

function flagsOf(pid: string, fd: string): number | undefined {
  try {
    const m = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    return m ? parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined; // closed meanwhile
  }
}

function commandOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** The first process (other than this one) with the file open for writing, if any. */
export function findFileWriter(path: string): FileWriter | undefined {
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return undefined; // no file: nobody writes it
  }
  const self = String(process.pid);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || pid === self) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link !== target) continue;
      const flags = flagsOf(pid, fd);
      if (flags !== undefined && (flags & O_ACCMODE) !== O_RDONLY) return { pid: Number(pid), command: commandOf(pid) };
    }
  }
  return undefined;
}
