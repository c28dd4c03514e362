// A BPF map seen through the struct layouts of its key and value.
import { constants } from 'node:os';
import { checkReturn, BpfError } from './bpf-error.js';
import { native } from './libbpf.js';
import type { StructLayout } from './struct-layout.js';

const { ENOENT } = constants.errno;
// EINVAL, ENOTSUPP (524), EOPNOTSUPP: map types without lookup_batch (sk_storage, ...).
const BATCH_UNSUPPORTED = new Set([22, 524, 95]);

export const enum UpdateFlags {
  Any = 0,
  NoExist = 1,
  Exist = 2,
}

/** How far a batch got: `done` elements applied in order; `error` is what stopped the next one. */
export interface BatchResult {
  done: number;
  error?: BpfError | Error;
}

/** What the datapath needs of a map; TypedMap is the kernel's, tests may supply another. */
export interface KeyValueMap<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): boolean;
  entries(): [K, V][];
  /** Writes entries in order, stopping at the first failure. */
  setMany(entries: readonly (readonly [K, V])[]): BatchResult;
  /** Deletes keys in order, stopping at the first failure (ENOENT included). */
  deleteMany(keys: readonly K[]): BatchResult;
}

// One batch syscall carries at most this many elements, which bounds the buffers it needs.
const BATCH_CHUNK = 8192;

export class TypedMap<K, V> implements KeyValueMap<K, V> {
  private readonly keyBytes: Uint8Array;
  private readonly nextKeyBytes: Uint8Array;
  private readonly valueBytes: Uint8Array;

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly keyLayout: StructLayout<K>,
    readonly valueLayout: StructLayout<V>,
  ) {
    // Scratch buffers reused by every call: map I/O is a hot path when thousands of
    // services are programmed at once, and each call is synchronous.
    this.keyBytes = new Uint8Array(keyLayout.size);
    this.nextKeyBytes = new Uint8Array(keyLayout.size);
    this.valueBytes = new Uint8Array(valueLayout.size);
  }

  get(key: K): V | undefined {
    this.keyLayout.encode(key, this.keyBytes);
    const ret = native.mapLookupElem(this.fd, this.keyBytes, this.valueBytes) as number;
    if (ret === -ENOENT) return undefined;
    checkReturn(ret, `lookup in map ${this.name}`);
    return this.valueLayout.decode(this.valueBytes);
  }

  set(key: K, value: V, flags: UpdateFlags = UpdateFlags.Any): void {
    this.keyLayout.encode(key, this.keyBytes);
    this.valueLayout.encode(value, this.valueBytes);
    checkReturn(native.mapUpdateElem(this.fd, this.keyBytes, this.valueBytes, flags) as number, `update of map ${this.name}`);
  }

  /** Returns false when the key was not there. */
  delete(key: K): boolean {
    this.keyLayout.encode(key, this.keyBytes);
    const ret = native.mapDeleteElem(this.fd, this.keyBytes) as number;
    if (ret === -ENOENT) return false;
    checkReturn(ret, `delete from map ${this.name}`);
    return true;
  }

  setMany(entries: readonly (readonly [K, V])[]): BatchResult {
    const ks = this.keyLayout.size;
    const vs = this.valueLayout.size;
    let done = 0;
    while (done < entries.length) {
      const n = Math.min(BATCH_CHUNK, entries.length - done);
      const keys = new Uint8Array(n * ks);
      const values = new Uint8Array(n * vs);
      for (let i = 0; i < n; i++) {
        const [k, v] = entries[done + i]!;
        this.keyLayout.encode(k, keys, i * ks);
        this.valueLayout.encode(v, values, i * vs);
      }
      const count = [n];
      const ret = native.mapUpdateBatch(this.fd, keys, values, count, null) as number;
      done += ret < 0 ? count[0]! : n;
      if (ret < 0) return { done, error: new BpfError(`update of map ${this.name}`, -ret) };
    }
    return { done };
  }

  deleteMany(keys: readonly K[]): BatchResult {
    const ks = this.keyLayout.size;
    let done = 0;
    while (done < keys.length) {
      const n = Math.min(BATCH_CHUNK, keys.length - done);
      const buf = new Uint8Array(n * ks);
      for (let i = 0; i < n; i++) this.keyLayout.encode(keys[done + i]!, buf, i * ks);
      const count = [n];
      const ret = native.mapDeleteBatch(this.fd, buf, count, null) as number;
      done += ret < 0 ? count[0]! : n;
      if (ret < 0) return { done, error: new BpfError(`delete from map ${this.name}`, -ret) };
    }
    return { done };
  }

  /** Reads the whole map in batches, handing each batch's raw keys and values to onBatch;
   * false for map types without batch lookups. */
  private scanBatched(onBatch: (keys: Uint8Array, values: Uint8Array, count: number) => void): boolean {
    const keys = new Uint8Array(BATCH_CHUNK * this.keyLayout.size);
    const values = new Uint8Array(BATCH_CHUNK * this.valueLayout.size);
    // The batch position is a kernel cursor: a bucket index for hash maps, but the last key
    // read for maps on the generic batch code (LPM tries), which the kernel writes whole: room
    // for either, or a key longer than the cursor would be written past its end.
    const inBatch = new Uint8Array(Math.max(8, this.keyLayout.size));
    const outBatch = new Uint8Array(Math.max(8, this.keyLayout.size));
    for (let first = true; ; first = false) {
      const count = [BATCH_CHUNK];
      const ret = native.mapLookupBatch(this.fd, first ? null : inBatch, outBatch, keys, values, count, null) as number;
      if (ret < 0 && ret !== -ENOENT) {
        if (first && BATCH_UNSUPPORTED.has(-ret)) return false;
        throw new BpfError(`batch read of map ${this.name}`, -ret);
      }
      onBatch(keys, values, count[0]!);
      if (ret === -ENOENT) return true;
      inBatch.set(outBatch);
    }
  }

  private entriesBatched(): [K, V][] | undefined {
    const ks = this.keyLayout.size;
    const vs = this.valueLayout.size;
    const out: [K, V][] = [];
    const supported = this.scanBatched((keys, values, count) => {
      for (let i = 0; i < count; i++) out.push([this.keyLayout.decode(keys, i * ks), this.valueLayout.decode(values, i * vs)]);
    });
    return supported ? out : undefined;
  }

  /** How many entries the map holds, read in batches without decoding them (for LRU maps,
   * whose fill the kernel does not report). */
  count(): number {
    let n = 0;
    if (this.scanBatched((_keys, _values, count) => (n += count))) return n;
    return this.keys().length;
  }

  /** Every key; entries deleted or added while iterating may be missed or seen, as in the kernel. */
  keys(): K[] {
    const keys: K[] = [];
    let ret = native.mapGetNextKey(this.fd, null, this.nextKeyBytes) as number;
    while (ret === 0) {
      keys.push(this.keyLayout.decode(this.nextKeyBytes));
      this.keyBytes.set(this.nextKeyBytes);
      ret = native.mapGetNextKey(this.fd, this.keyBytes, this.nextKeyBytes) as number;
    }
    if (ret !== -ENOENT) throw new BpfError(`iteration of map ${this.name}`, -ret);
    return keys;
  }

  /** Every entry, read in batches (bpf_map_lookup_batch: one syscall per BATCH_CHUNK entries,
   * and unlike get_next_key it never restarts from the first key when the current one is
   * deleted under it); maps without batch support are read key by key. */
  entries(): [K, V][] {
    const batched = this.entriesBatched();
    if (batched) return batched;
    const out: [K, V][] = [];
    for (const key of this.keys()) {
      const value = this.get(key);
      if (value !== undefined) out.push([key, value]);
    }
    return out;
  }
}
