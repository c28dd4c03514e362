// Opens and loads a compiled BPF object with every map pinned under a directory. A map whose
// pin already exists is reused (libbpf checks that its type and sizes match), which is how a
// restarted agent adopts the datapath state instead of starting empty.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, checkHandle, checkReturn } from './bpf-error.js';
import { captureLibbpfLog, native, type Handle } from './libbpf.js';

export interface LoadedProgram {
  name: string;
  section: string;
  handle: Handle;
}

export interface LoadedObject {
  /** Map fds by map name, valid until close(). */
  readonly maps: ReadonlyMap<string, number>;
  readonly programs: readonly LoadedProgram[];
  close(): void;
}

export function loadPinnedObject(objectPath: string, mapPinDir: string): LoadedObject {
  captureLibbpfLog();
  mkdirSync(mapPinDir, { recursive: true });
  const obj = checkHandle(native.objectOpenFile(objectPath, null), `open BPF object ${objectPath}`);
  try {
    const mapHandles: [string, Handle][] = [];
    for (let m = native.objectNextMap(obj, null); m; m = native.objectNextMap(obj, m)) {
      const name = native.mapName(m) as string;
      checkReturn(native.mapSetPinPath(m, join(mapPinDir, name)) as number, `set pin path of map ${name}`);
      mapHandles.push([name, m]);
    }
    try {
      checkReturn(native.objectLoad(obj) as number, `load BPF object ${objectPath}`);
    } catch (err) {
      const stale = err instanceof BpfError && err.libbpfLog.find((l) => l.includes("couldn't reuse pinned map"));
      if (!stale) throw err;
      // A map pinned by a socklb whose layout differs (an upgrade that changed a struct).
      throw new Error(
        `the maps pinned in ${mapPinDir} do not fit this socklb's programs (${stale.replace(/^libbpf:\s*/, '')}); ` +
          'run `socklb uninstall --bpffs` on that directory (services are not balanced until the agent runs again) or choose another --bpffs',
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
