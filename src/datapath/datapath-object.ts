// One loader for every socklb BPF object (sock_lb, sock_destroy, tc_lb): where its pins live
// under --bpffs, the checks before loading (object built, may load BPF, bpffs mounted), maps
// adopted from their pins (under their versioned names, pins of another layout set aside first:
// map-layouts.ts), and the question the agent's watch asks of every component: are this
// object's maps still pinned as the maps it writes?
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadPinnedObject, lostMapPins, type LoadedObject } from '../bpf/bpf-object.js';
import { checkReturn } from '../bpf/bpf-error.js';
import { native } from '../bpf/libbpf.js';
import { checkCanLoadBpf } from '../bpf/preflight.js';
import { ensureBpffs } from '../bpf/kernel-env.js';
import { pinName, prepareUpgrade } from './map-layouts.js';

/** Where the maps of every object are pinned: one directory, so objects share them by name. */
export const mapDir = (bpffs: string): string => join(bpffs, 'maps');
/** Where the socket hooks' cgroup links are pinned. */
export const linkDir = (bpffs: string): string => join(bpffs, 'links');

export interface DatapathObject extends LoadedObject {
  readonly path: string;
  /** The fd of a program of this object; throws naming the object when it has none by that name. */
  programFd(name: string): number;
  /** The fd of a map of this object; throws naming the object when it has none by that name. */
  mapFd(name: string): number;
  /** This object's maps whose pins are gone or hold another map now, one line each (lostMapPins). */
  lostMaps(): string[];
  /** Pins of another layout this load set aside to build its maps anew. */
  readonly setAside: readonly string[];
}

export function loadDatapathObject(objectPath: string, bpffs: string): DatapathObject {
  if (!existsSync(objectPath)) throw new Error(`BPF object ${objectPath} is missing; build it with npm run build`);
  checkCanLoadBpf();
  ensureBpffs(bpffs);
  let setAside: string[] = [];
  const obj = loadPinnedObject(objectPath, mapDir(bpffs), { pinName, beforeLoad: (defs) => (setAside = prepareUpgrade(mapDir(bpffs), defs)) });
  const rebuild = (what: string): Error => new Error(`${objectPath} has no ${what}; rebuild with npm run build`);
  return {
    path: objectPath,
    maps: obj.maps,
    programs: obj.programs,
    programFd(name) {
      const prog = obj.programs.find((p) => p.name === name);
      if (!prog) throw rebuild(`program ${name}`);
      return checkReturn(native.programFd(prog.handle) as number, `fd of program ${name}`);
    },
    mapFd(name) {
      const fd = obj.maps.get(name);
      if (fd === undefined) throw rebuild(`map ${name}`);
      return fd;
    },
    lostMaps: () => lostMapPins(obj.maps, mapDir(bpffs), pinName),
    setAside,
    close: () => obj.close(),
  };
}

/** Runs fn with the object; closes the object when fn throws, and rethrows. */
export function closingOnError<T>(obj: { close(): void }, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    obj.close();
    throw err;
  }
}

/** Removes the pins of these maps (by their names at this layout) under bpffs, where present. */
export function removePins(bpffs: string, maps: readonly string[]): void {
  for (const map of maps) {
    const pin = join(mapDir(bpffs), pinName(map));
    if (existsSync(pin)) rmSync(pin);
  }
}
