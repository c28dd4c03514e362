// Attaches socket programs to a cgroup v2 directory through pinned bpf_links. A pinned link
// keeps the program attached while no agent runs; a restarted agent swaps its freshly loaded
// program into the existing link (one atomic update, no gap, no second attachment).
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkHandle, checkReturn } from './bpf-error.js';
import { native, type Handle } from './libbpf.js';
import type { LoadedProgram } from './bpf-object.js';

export type AttachAction = 'attached' | 'updated' | 'moved';

export interface AttachResult {
  program: string;
  action: AttachAction;
}

// struct bpf_link_info: type, id, prog_id, then a union aligned to 8; for cgroup links it
// starts with cgroup_id. The buffer is larger than any kernel's struct: the kernel only
// requires the unused tail to be zero.
const LINK_INFO_SIZE = 256;
const LINK_INFO_PROG_ID_OFFSET = 8;
const LINK_INFO_CGROUP_ID_OFFSET = 16;

function linkInfo(link: Handle, what: string): Buffer {
  const info = Buffer.alloc(LINK_INFO_SIZE);
  const len = [LINK_INFO_SIZE];
  checkReturn(native.objGetInfoByFd(native.linkFd(link) as number, info, len) as number, `read info of link ${what}`);
  return info;
}

const linkCgroupId = (link: Handle, what: string): bigint => linkInfo(link, what).readBigUInt64LE(LINK_INFO_CGROUP_ID_OFFSET);

/** The id of the program each pinned link in the directory runs, by the link's name. */
export function linkedProgramIds(linkPinDir: string): Map<string, number> {
  const ids = new Map<string, number>();
  if (!existsSync(linkPinDir)) return ids;
  for (const name of readdirSync(linkPinDir).sort()) {
    const pinPath = join(linkPinDir, name);
    const link = checkHandle(native.linkOpen(pinPath), `open pinned link ${pinPath}`);
    try {
      ids.set(name, linkInfo(link, pinPath).readUInt32LE(LINK_INFO_PROG_ID_OFFSET));
    } finally {
      native.linkDestroy(link);
    }
  }
  return ids;
}

/** On cgroup v2 the directory's inode number is the cgroup id links report. */
export function cgroupId(cgroupPath: string): bigint {
  return statSync(cgroupPath, { bigint: true }).ino;
}

export function attachToCgroup(programs: readonly LoadedProgram[], cgroupPath: string, linkPinDir: string): AttachResult[] {
  mkdirSync(linkPinDir, { recursive: true });
  const targetId = cgroupId(cgroupPath);
  const cgroupFd = openSync(cgroupPath, 'r');
  try {
    return programs.map((prog) => attachOne(prog, cgroupFd, targetId, join(linkPinDir, prog.name)));
  } finally {
    closeSync(cgroupFd);
  }
}

function attachOne(prog: LoadedProgram, cgroupFd: number, targetId: bigint, pinPath: string): AttachResult {
  let action: AttachAction = 'attached';
  if (existsSync(pinPath)) {
    const link = checkHandle(native.linkOpen(pinPath), `open pinned link ${pinPath}`);
    try {
      if (linkCgroupId(link, pinPath) === targetId) {
        checkReturn(native.linkUpdateProgram(link, prog.handle) as number, `update link ${pinPath} to the new ${prog.name}`);
        return { program: prog.name, action: 'updated' };
      }
      // The pin belongs to another cgroup (the --cgroup option changed): move it.
      checkReturn(native.linkDetach(link) as number, `detach link ${pinPath} from its old cgroup`);
      rmSync(pinPath);
      action = 'moved';
    } finally {
      native.linkDestroy(link);
    }
  }
  const link = checkHandle(native.programAttachCgroup(prog.handle, cgroupFd), `attach ${prog.name} (${prog.section}) to the cgroup`);
  try {
    checkReturn(native.linkPin(link, pinPath) as number, `pin link of ${prog.name} at ${pinPath}`);
  } catch (err) {
    native.linkDetach(link);
    throw err;
  } finally {
    native.linkDestroy(link);
  }
  return { program: prog.name, action };
}

/** Detaches every pinned link in the directory and removes the pins; returns their names. */
export function detachPinnedLinks(linkPinDir: string): string[] {
  if (!existsSync(linkPinDir)) return [];
  const names = readdirSync(linkPinDir).sort();
  for (const name of names) {
    const pinPath = join(linkPinDir, name);
    const link = checkHandle(native.linkOpen(pinPath), `open pinned link ${pinPath}`);
    try {
      checkReturn(native.linkDetach(link) as number, `detach link ${pinPath}`);
    } finally {
      native.linkDestroy(link);
    }
    rmSync(pinPath);
  }
  return names;
}

/** The pinned links (by program name under linkPinDir) that are gone, detached, or attached to
 * another cgroup than cgroupPath: hooks where this agent's programs no longer run. */
export function lostLinks(names: readonly string[], cgroupPath: string, linkPinDir: string): string[] {
  const targetId = cgroupId(cgroupPath);
  const lost: string[] = [];
  for (const name of names) {
    const pinPath = join(linkPinDir, name);
    if (!existsSync(pinPath)) {
      lost.push(`link ${pinPath} is not pinned any more`);
      continue;
    }
    const link = checkHandle(native.linkOpen(pinPath), `open pinned link ${pinPath}`);
    try {
      // A detached cgroup link reports cgroup id 0.
      const id = linkCgroupId(link, pinPath);
      if (id !== targetId) lost.push(id === 0n ? `link ${pinPath} is detached` : `link ${pinPath} is attached to another cgroup`);
    } finally {
      native.linkDestroy(link);
    }
  }
  return lost;
}
