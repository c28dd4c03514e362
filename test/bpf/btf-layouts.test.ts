// Every TypeScript codec against the compiled object's BTF: struct names, sizes, field names,
// offsets and field sizes, and which struct each map's key and value really are.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { MAP_CAPACITY, MAP_NAME_OF } from '../../src/datapath/datapath-maps.js';
import { MAP_CODECS } from '../../src/datapath/map-codecs.js';
import { SOCK_OBJECT_PATH } from '../../src/datapath/sock-datapath.js';

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}

const dump = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', SOCK_OBJECT_PATH], { encoding: 'utf8' })) as { types: BtfType[] };
const byId = new Map(dump.types.map((ty) => [ty.id, ty]));
const structs = new Map(dump.types.filter((ty) => ty.kind === 'STRUCT').map((ty) => [ty.name, ty]));

function resolve(id: number): BtfType {
  let ty = byId.get(id)!;
  while (['TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT'].includes(ty.kind)) ty = byId.get(ty.type_id!)!;
  return ty;
}

function sizeOf(id: number): number {
  const ty = resolve(id);
  if (ty.kind === 'ARRAY') return (ty.nr_elems ?? 0) * sizeOf(ty.type_id!);
  if (ty.size === undefined) throw new Error(`no size for BTF type ${ty.id} (${ty.kind})`);
  return ty.size;
}

/** The anonymous struct of a map's definition in the .maps section. */
function mapDefinition(mapName: string): BtfType {
  const datasec = dump.types.find((ty) => ty.kind === 'DATASEC' && ty.name === '.maps') as unknown as { vars: { type_id: number }[] };
  const variable = datasec.vars.map((v) => byId.get(v.type_id)!).find((v) => v.name === mapName);
  if (!variable) throw new Error(`map ${mapName} is not in the object`);
  return resolve(variable.type_id!);
}

/** The struct a map definition's key or value member points at (struct { ... } *key). */
function mapMemberStruct(mapName: string, member: 'key' | 'value'): BtfType {
  const m = mapDefinition(mapName).members!.find((x) => x.name === member)!;
  return resolve(resolve(m.type_id).type_id!);
}

t.test('map capacities the agent reports are the ones compiled in', async (t) => {
  for (const [kind, capacity] of Object.entries(MAP_CAPACITY)) {
    const def = mapDefinition(MAP_NAME_OF[kind as keyof typeof MAP_NAME_OF]);
    const member = def.members!.find((m) => m.name === 'max_entries')!;
    // __uint(max_entries, N) is encoded as int (*max_entries)[N].
    t.equal(resolve(resolve(member.type_id).type_id!).nr_elems, capacity, `${kind}: ${capacity}`);
  }
});

for (const codec of MAP_CODECS) {
  t.test(`map ${codec.map}`, async (t) => {
    const layouts = [
      ['value', codec.value],
      ['key', codec.key],
    ] as const;
    for (const [member, layout] of layouts) {
      if (!layout) {
        t.not(mapMemberStruct(codec.map, member).kind, 'STRUCT', `${member} is a plain integer in C too`);
        continue;
      }
      const inMap = mapMemberStruct(codec.map, member);
      t.equal(inMap.name, layout.cName, `${member} is struct ${layout.cName}`);
      const c = structs.get(layout.cName);
      if (!c) {
        t.fail(`struct ${layout.cName} is not in the BTF`);
        continue;
      }
      t.equal(layout.size, c.size, `sizeof(struct ${layout.cName})`);
      t.same(
        layout.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size })),
        c.members!.map((m) => ({ name: m.name, offset: m.bits_offset / 8, size: sizeOf(m.type_id) })),
        `fields of struct ${layout.cName}`,
      );
    }
  });
}
