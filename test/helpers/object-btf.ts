// A compiled BPF object's BTF, as bpftool dumps it: its structs, enums and the definitions of
// its maps (the anonymous structs of the .maps section), for the tests that check the
// TypeScript codecs and the pinned maps' layout versions against what was really compiled.
import { execFileSync } from 'node:child_process';

export interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
  vars?: { type_id: number }[];
  values?: { name: string; val: number }[];
}

export class ObjectBtf {
  private readonly byId: Map<number, BtfType>;
  readonly structs: Map<string, BtfType>;
  readonly enums: Map<string, BtfType>;
  private readonly mapVars: BtfType[];

  constructor(readonly path: string) {
    const dump = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', path], { encoding: 'utf8' })) as { types: BtfType[] };
    this.byId = new Map(dump.types.map((ty) => [ty.id, ty]));
    this.structs = new Map(dump.types.filter((ty) => ty.kind === 'STRUCT').map((ty) => [ty.name, ty]));
    this.enums = new Map(dump.types.filter((ty) => ty.kind === 'ENUM').map((ty) => [ty.name, ty]));
    const datasec = dump.types.find((ty) => ty.kind === 'DATASEC' && ty.name === '.maps');
    this.mapVars = (datasec?.vars ?? []).map((v) => this.byId.get(v.type_id)!);
  }

  resolve(id: number): BtfType {
    let ty = this.byId.get(id)!;
    while (['TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT'].includes(ty.kind)) ty = this.byId.get(ty.type_id!)!;
    return ty;
  }

  sizeOf(id: number): number {
    const ty = this.resolve(id);
    if (ty.kind === 'ARRAY') return (ty.nr_elems ?? 0) * this.sizeOf(ty.type_id!);
    if (ty.size === undefined) throw new Error(`no size for BTF type ${ty.id} (${ty.kind})`);
    return ty.size;
  }

  hasMap(mapName: string): boolean {
    return this.mapVars.some((v) => v.name === mapName);
  }

  /** The anonymous struct of a map's definition in the .maps section. */
  mapDefinition(mapName: string): BtfType {
    const variable = this.mapVars.find((v) => v.name === mapName);
    if (!variable) throw new Error(`map ${mapName} is not in ${this.path}`);
    return this.resolve(variable.type_id!);
  }

  /** The struct a map definition's key or value member points at (struct { ... } *key). */
  mapMemberStruct(mapName: string, member: 'key' | 'value'): BtfType {
    const m = this.mapDefinition(mapName).members!.find((x) => x.name === member)!;
    return this.resolve(this.resolve(m.type_id).type_id!);
  }

  capacity(mapName: string): number | undefined {
    const member = this.mapDefinition(mapName).members!.find((m) => m.name === 'max_entries')!;
    // __uint(max_entries, N) is encoded as int (*max_entries)[N].
    return this.resolve(this.resolve(member.type_id).type_id!).nr_elems;
  }

  /** The names of the maps the object defines (every one is pinned by the loader). */
  mapNames(): string[] {
    return this.mapVars.map((v) => v.name);
  }

  /** What a map's pinned contents mean, as far as BTF can tell: its type, flags, and its key
   * and value types in full (names, sizes, every member's offset and type, nested structs and
   * enums). Its capacity is left out: a pin of another capacity no longer fits and is rebuilt
   * without a version (map-layouts.ts). */
  mapLayout(mapName: string): string {
    return this.mapDefinition(mapName)
      .members!.filter((m) => m.name !== 'max_entries')
      .map((m) => {
        const target = this.resolve(this.resolve(m.type_id).type_id!);
        // __uint(name, N) is int (*name)[N]; __type(name, T) is T *name.
        const desc = m.name === 'key' || m.name === 'value' ? this.describe(target.id) : String(target.nr_elems);
        return `${m.name}=${desc}`;
      })
      .join(' ');
  }

  /** One type, spelled out whole: what two objects must agree on to share a map. */
  describe(id: number): string {
    const ty = this.resolve(id);
    switch (ty.kind) {
      case 'STRUCT':
      case 'UNION':
        return `${ty.kind.toLowerCase()} ${ty.name}:${ty.size}{${ty.members!.map((m) => `${m.name}@${m.bits_offset}:${this.describe(m.type_id)}`).join(',')}}`;
      case 'ARRAY':
        return `${this.describe(ty.type_id!)}[${ty.nr_elems}]`;
      case 'PTR':
        return `*${this.describe(ty.type_id!)}`;
      case 'ENUM':
        return `enum ${ty.name}:${ty.size}{${ty.values!.map((v) => `${v.name}=${v.val}`).join(',')}}`;
      default:
        return `${ty.name}:${ty.size ?? '?'}`;
    }
  }
}
