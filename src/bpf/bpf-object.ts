// Opens and loads a compiled BPF object with every map pinned under a directory. A map whose
// pin already exists is reused (libbpf checks that its type and sizes match), which is how a
// restarted agent adopts the datapath state instead of starting empty. Where each map is pinned
// (its pin name) and what happens to pins of another layout before the load is the caller's
// (src/datapath/map-layouts.ts): this file only reports each map's definition.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, checkHandle, checkReturn } from './bpf-error.js';
import { captureLibbpfLog, native, type Handle } from './libbpf.js';

export interface LoadedProgram {
  name: string;
  section: string;
  handle: Handle;
}

/** What libbpf compares before it reuses a pinned map (map_is_reuse_compat). */
export interface MapDef {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface PinOptions {
  /** The pin's file name for a map (default: the map's name). */
  pinName?: (mapName: string) => string;
  /** Sees every map's definition after the object is opened, before anything is loaded or reused. */
  beforeLoad?: (defs: readonly MapDef[]) => void;
}

export interface LoadedObject {
  /** Map fds by map name, valid until close(). */
  readonly maps: ReadonlyMap<string, number>;
  readonly programs: readonly LoadedProgram[];
  close(): void;
}

export function loadPinnedObject(objectPath: string, mapPinDir: string, opts: PinOptions = {}): LoadedObject {
  captureLibbpfLog();
  mkdirSync(mapPinDir, { recursive: true });
  const obj = checkHandle(native.objectOpenFile(objectPath, null), `open BPF object ${objectPath}`);
  try {
    const mapHandles: [string, Handle][] = [];
    const defs: MapDef[] = [];
    for (let m = native.objectNextMap(obj, null); m; m = native.objectNextMap(obj, m)) {
      const name = native.mapName(m) as string;
      checkReturn(native.mapSetPinPath(m, join(mapPinDir, opts.pinName?.(name) ?? name)) as number, `set pin path of map ${name}`);
      mapHandles.push([name, m]);
      defs.push({
        name,
        type: native.mapType(m) as number,
        keySize: native.mapKeySize(m) as number,
        valueSize: native.mapValueSize(m) as number,
        maxEntries: native.mapMaxEntries(m) as number,
        flags: native.mapFlags(m) as number,
      });
    }
    opts.beforeLoad?.(defs);
    try {
      checkReturn(native.objectLoad(obj) as number, `load BPF object ${objectPath}`);
    } catch (err) {
      const stale = err instanceof BpfError && err.libbpfLog.find((l) => l.includes("couldn't reuse pinned map"));
      if (!stale) throw err;
      // Pins of another layout are set aside before the load (beforeLoad); one that still does
      // not fit was pinned in between, by another process.
      throw new Error(
        `the maps pinned in ${mapPinDir} do not fit this socklb's programs (${stale.replace(/^libbpf:\s*/, '')}) and changed while it loaded; ` +
          'make sure no other socklb runs on that directory, then start the agent again',
      );
    }
    const maps = new Map(mapHandles.map(([name, m]) => [name, native.mapFd(m) as number]));
    const programs: LoadedProgram[] = [];
    for (let p = native.objectNextProgram(obj, null); p; p = native.objectNextProgram(obj, p)) {
      programs.push({ name: native.programName(p) as string, section: native.programSectionName(p) as string, handle: p });
    }
    let open = true;
    return {
      maps,
      programs,
      close() {
        if (open) native.objectClose(obj);
        open = false;
      },
    };
  } catch (err) {
    native.objectClose(obj);
    throw err;
  }
}

/** Opens a pinned object (map or link) by path, for tools that read state without loading. */
export function openPinned(path: string): number {
  return checkReturn(native.objGet(path) as number, `open pinned object ${path}`);
}

export function closeFd(fd: number): void {
  native.close(fd);
}

/** The kernel's id of a program or map: bpf_prog_info and bpf_map_info both start with type,
 * then id, and the kernel fills only as much as is asked for. */
export function objectId(fd: number, what: string): number {
  const info = Buffer.alloc(8);
  checkReturn(native.objGetInfoByFd(fd, info, [info.length]) as number, `read the id of ${what}`);
  return info.readUInt32LE(4);
}

/** The definition of a pinned map, as the kernel reports it (struct bpf_map_info: type, id,
 * key_size, value_size, max_entries, map_flags, then the name). */
export function pinnedMapDef(path: string): MapDef {
  const fd = openPinned(path);
  try {
    const info = Buffer.alloc(40);
    checkReturn(native.objGetInfoByFd(fd, info, [info.length]) as number, `read the definition of map ${path}`);
    const name = info.subarray(24, 40).toString('latin1').replace(/\0.*$/s, '');
    return { name, type: info.readUInt32LE(0), keySize: info.readUInt32LE(8), valueSize: info.readUInt32LE(12), maxEntries: info.readUInt32LE(16), flags: info.readUInt32LE(20) };
  } finally {
    closeFd(fd);
  }
}

/** The maps (fds by name) whose pin under `dir` is gone or now holds another map: what this
 * process writes there no program of the node reads any more. One line per map, for a log. */
export function lostMapPins(maps: ReadonlyMap<string, number>, dir: string, pinName: (mapName: string) => string = (n) => n): string[] {
  const lost: string[] = [];
  for (const [name, fd] of maps) {
    const pin = join(dir, pinName(name));
    if (!existsSync(pin)) {
      lost.push(`map ${pin} is not pinned any more`);
      continue;
    }
    const pinned = openPinned(pin);
    try {
      const [ours, theirs] = [objectId(fd, `map ${name}`), objectId(pinned, `map ${pin}`)];
      if (ours !== theirs) lost.push(`map ${pin} is another map now (id ${theirs}; this agent's is ${ours})`);
    } finally {
      closeFd(pinned);
    }
  }
  return lost;
}
