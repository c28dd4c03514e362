// Describes a C struct shared with a BPF program field by field, computes offsets with C's
// alignment rules, and encodes and decodes values. Each map layout is described once with
// this and checked against the compiled object's BTF by test/bpf/btf-layouts.test.ts.
import { endianness } from 'node:os';
import { ipFromBytes, writeIpBytes } from '../net/ip-address.js';

const hostLittleEndian = endianness() === 'LE';

export interface FieldType<V> {
  readonly size: number;
  readonly align: number;
  /** Set on padding: never read or written, always zero in the encoded bytes. */
  readonly padding?: true;
  read(view: DataView, offset: number): V;
  write(view: DataView, offset: number, value: V): void;
}

export const u8: FieldType<number> = {
  size: 1,
  align: 1,
  read: (v, o) => v.getUint8(o),
  write: (v, o, x) => v.setUint8(o, x),
};

/** A __u8 whose 0 means "not set": decoded as an absent property, written as 0 when absent. */
export const optionalU8: FieldType<number | undefined> = {
  size: 1,
  align: 1,
  read: (v, o) => v.getUint8(o) || undefined,
  write: (v, o, x) => v.setUint8(o, x ?? 0),
};

export const u16: FieldType<number> = {
  size: 2,
  align: 2,
  read: (v, o) => v.getUint16(o, hostLittleEndian),
  write: (v, o, x) => v.setUint16(o, x, hostLittleEndian),
};

/** __be16: ports, stored in network byte order. */
export const be16: FieldType<number> = {
  size: 2,
  align: 2,
  read: (v, o) => v.getUint16(o, false),
  write: (v, o, x) => v.setUint16(o, x, false),
};

/** __be32: stored in network byte order (the policy keys, whose LPM prefixes run over these bits). */
export const be32: FieldType<number> = {
  size: 4,
  align: 4,
  read: (v, o) => v.getUint32(o, false),
  write: (v, o, x) => v.setUint32(o, x, false),
};

/** __u8 name[n]: bytes as they are. */
export function byteArray(n: number): FieldType<Uint8Array> {
  return {
    size: n,
    align: 1,
    read: (v, o) => new Uint8Array(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + n)),
    write: (v, o, x) => {
      if (x.length !== n) throw new Error(`a ${n}-byte field got ${x.length} bytes`);
      new Uint8Array(v.buffer, v.byteOffset + o, n).set(x);
    },
  };
}

export const u32: FieldType<number> = {
  size: 4,
  align: 4,
  read: (v, o) => v.getUint32(o, hostLittleEndian),
  write: (v, o, x) => v.setUint32(o, x, hostLittleEndian),
};

export const u64: FieldType<bigint> = {
  size: 8,
  align: 8,
  read: (v, o) => v.getBigUint64(o, hostLittleEndian),
  write: (v, o, x) => v.setBigUint64(o, x, hostLittleEndian),
};

/** struct lb_address: 16 bytes in network order, IPv4 v4-mapped; text in TypeScript. */
export const lbAddress: FieldType<string> = {
  size: 16,
  align: 4,
  read: (v, o) => ipFromBytes(new Uint8Array(v.buffer, v.byteOffset + o, 16)),
  write: (v, o, x) => writeIpBytes(x, v, o),
};

/** A MAC address (__u8 [ETH_ALEN]); text as ip link shows it, 02:00:00:00:00:01. */
export const macAddress: FieldType<string> = {
  size: 6,
  align: 1,
  read: (v, o) =>
    Array.from({ length: 6 }, (_, i) =>
      v
        .getUint8(o + i)
        .toString(16)
        .padStart(2, '0'),
    ).join(':'),
  write: (v, o, x) => {
    const bytes = x.split(':').map((b) => Number.parseInt(b, 16));
    if (bytes.length !== 6 || bytes.some((b) => !(b >= 0 && b <= 255))) throw new Error(`"${x}" is not a MAC address (six hex bytes separated by colons)`);
    bytes.forEach((b, i) => v.setUint8(o + i, b));
  },
};

const bytesOf = (v: DataView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** A member that is a struct (struct x member). */
export function structField<T>(element: StructLayout<T>): FieldType<T> {
  return {
    size: element.size,
    align: element.align,
    read: (v, o) => element.decode(bytesOf(v), o),
    write: (v, o, x) => void element.encode(x, bytesOf(v), o),
  };
}

/** A member that is an array of n structs (struct x member[n]). */
export function arrayOf<T>(element: StructLayout<T>, n: number): FieldType<T[]> {
  return {
    size: element.size * n,
    align: element.align,
    read: (v, o) => Array.from({ length: n }, (_, i) => element.decode(bytesOf(v), o + i * element.size)),
    write: (v, o, x) => {
      const bytes = bytesOf(v);
      for (let i = 0; i < n; i++) {
        const item = x[i];
        if (item === undefined) bytes.fill(0, o + i * element.size, o + (i + 1) * element.size);
        else element.encode(item, bytes, o + i * element.size);
      }
    },
  };
}

/** A C enum mirrored in TypeScript: its BTF name, the prefix its members' C names share, and
 * each member by its TypeScript name (the C name without the prefix, in lower case). Checked
 * against the compiled objects' BTF by test/bpf/btf-layouts.test.ts. */
export interface EnumMirror {
  readonly cName: string;
  readonly prefix: string;
  readonly members: Readonly<Record<string, number>>;
}

/** The members as C names them, in value order: what BTF lists. */
export function cEnumMembers(e: EnumMirror): { name: string; value: number }[] {
  return Object.entries(e.members)
    .map(([name, value]) => ({ name: e.prefix + name.toUpperCase(), value }))
    .sort((a, b) => a.value - b.value);
}

/** Explicit padding bytes, named as in the C struct; always written as zero. */
export function padding(size: number): FieldType<undefined> {
  return { size, align: 1, padding: true, read: () => undefined, write: () => undefined };
}

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

type FieldSpec<T> = { [K in keyof T]: readonly [K, FieldType<T[K]>] }[keyof T] | readonly [string, FieldType<undefined>];

export interface StructLayout<T> {
  /** The C struct's name, as BTF knows it. */
  readonly cName: string;
  readonly size: number;
  /** The strictest alignment of its fields, as C aligns the struct. */
  readonly align: number;
  readonly fields: readonly FieldLayout[];
  encode(value: T, into?: Uint8Array, offset?: number): Uint8Array;
  decode(bytes: Uint8Array, offset?: number): T;
}

// Encoding many entries into one batch buffer (or one scratch buffer again and again) should
// not allocate a DataView per entry: the last few views are kept by buffer.
const views = new WeakMap<Uint8Array, DataView>();
function viewOf(bytes: Uint8Array): DataView {
  let v = views.get(bytes);
  if (!v) views.set(bytes, (v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  return v;
}

export function defineStruct<T extends object>(cName: string, specs: readonly FieldSpec<T>[]): StructLayout<T> {
  let offset = 0;
  let maxAlign = 1;
  const placed = specs.map(([name, type]) => {
    offset = Math.ceil(offset / type.align) * type.align;
    maxAlign = Math.max(maxAlign, type.align);
    const at = { name: name as string, offset, size: type.size, type: type as FieldType<unknown> };
    offset += type.size;
    return at;
  });
  const size = Math.ceil(offset / maxAlign) * maxAlign;
  const dataFields = placed.filter((f) => !f.type.padding);
  return {
    cName,
    size,
    align: maxAlign,
    fields: placed.map(({ name, offset: o, size: s }) => ({ name, offset: o, size: s })),
    encode(value, into, at = 0) {
      // Fresh or caller-provided zeroed bytes: padding and holes must be zero, or hash keys
      // that are equal in C would differ byte for byte.
      const bytes = into ?? new Uint8Array(size);
      if (into) bytes.fill(0, at, at + size);
      const view = viewOf(bytes);
      for (const f of dataFields) f.type.write(view, at + f.offset, (value as Record<string, unknown>)[f.name]);
      return bytes;
    },
    decode(bytes, at = 0) {
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, size);
      const out: Record<string, unknown> = {};
      for (const f of dataFields) {
        const v = f.type.read(view, f.offset);
        // Only optional fields read as undefined: absent, as the value they were written from.
        if (v !== undefined) out[f.name] = v;
      }
      return out as T;
    },
  };
}

/** A map value that is a __u8 flag: presence is what counts. */
/** A map whose key is a plain __u32 (an array's index, an ifindex). */
export const u32KeyLayout = defineStruct<{ index: number }>('(u32)', [['index', u32]]);

export const presenceValueLayout = defineStruct<{ present: number }>('(u8)', [['present', u8]]);
