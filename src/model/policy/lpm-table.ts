// A longest-prefix-match table over byte keys, behaving as a BPF_MAP_TYPE_LPM_TRIE does: an
// entry is (key bytes, prefix length in bits, value); a lookup with a full key returns the value
// of the longest entry whose first prefixLen bits equal the key's. The compiler fills these and
// the datapath codec will write exactly these entries; the model's lookup uses this class so the
// tests run the datapath's algorithm. Pure.
import { prefixByteMask } from '../../net/cidr.js';

export interface LpmEntry<V> {
  key: Uint8Array;
  prefixLen: number;
  value: V;
}

/** The first `bits` bits of `key` as a Map key: the whole bytes they cover (latin1, one char a
 * byte), then the partial byte masked. Keys of one length are compared with keys of the same
 * length only. */
function prefixOf(key: Buffer, bits: number): string {
  const whole = bits >> 3;
  const rest = bits & 7;
  const head = key.toString('latin1', 0, whole);
  return rest === 0 ? head : head + String.fromCharCode(key[whole]! & prefixByteMask(bits, whole));
}

const asBuffer = (key: Uint8Array): Buffer => Buffer.from(key.buffer, key.byteOffset, key.length);

export class LpmTable<V> {
  readonly keyBytes: number;
  // One exact map per prefix length, probed longest first: the same answer as a trie walk.
  private readonly byLength = new Map<number, Map<string, V>>();
  private lengths: number[] = [];

  constructor(keyBytes: number) {
    this.keyBytes = keyBytes;
  }

  /** Adds or replaces the entry for (key, prefixLen); bits past prefixLen are ignored. */
  set(key: Uint8Array, prefixLen: number, value: V): void {
    if (key.length !== this.keyBytes || prefixLen < 0 || prefixLen > this.keyBytes * 8) {
      throw new Error(`LPM entry of ${key.length} bytes / ${prefixLen} bits does not fit a ${this.keyBytes}-byte key`);
    }
    let level = this.byLength.get(prefixLen);
    if (!level) {
      level = new Map();
      this.byLength.set(prefixLen, level);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    level.set(prefixOf(asBuffer(key), prefixLen), value);
  }

  lookup(key: Uint8Array): V | undefined {
    const buffer = asBuffer(key);
    for (const len of this.lengths) {
      const hit = this.byLength.get(len)!.get(prefixOf(buffer, len));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  get size(): number {
    let n = 0;
    for (const level of this.byLength.values()) n += level.size;
    return n;
  }

  *entries(): IterableIterator<LpmEntry<V>> {
    for (const len of this.lengths) {
      for (const [masked, value] of this.byLength.get(len)!) {
        const key = new Uint8Array(this.keyBytes);
        for (let i = 0; i < masked.length; i++) key[i] = masked.charCodeAt(i);
        yield { key, prefixLen: len, value };
      }
    }
  }
}
