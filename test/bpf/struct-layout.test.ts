import t from 'tap';
import { be16, defineStruct, lbAddress, macAddress, padding, u16, u32, u64, u8 } from '../../src/bpf/struct-layout.js';

interface Sample {
  a: number;
  b: bigint;
  c: number;
  addr: string;
  port: number;
}

const layout = defineStruct<Sample>('sample', [
  ['a', u8],
  ['b', u64],
  ['c', u16],
  ['addr', lbAddress],
  ['port', be16],
  ['pad', padding(1)],
]);

t.test('offsets follow C alignment and the size rounds up to the largest alignment', async (t) => {
  t.same(
    layout.fields.map((f) => [f.name, f.offset, f.size]),
    [
      ['a', 0, 1],
      ['b', 8, 8],
      ['c', 16, 2],
      ['addr', 20, 16],
      ['port', 36, 2],
      ['pad', 38, 1],
    ],
  );
  t.equal(layout.size, 40);
  t.equal(layout.cName, 'sample');
});

t.test('encode and decode round-trip; ports are big-endian; padding is zero', async (t) => {
  const value: Sample = { a: 7, b: 1n << 40n, c: 0x1234, addr: 'fd00::1', port: 8080 };
  const into = new Uint8Array(50).fill(0xee);
  layout.encode(value, into, 5);
  t.equal(into[4], 0xee, 'bytes before the struct are untouched');
  t.equal(into[45], 0xee, 'bytes after the struct are untouched');
  t.equal(into[5 + 1], 0, 'holes between fields are zeroed');
  t.equal(into[5 + 38], 0, 'padding is zeroed');
  t.same([into[5 + 36], into[5 + 37]], [0x1f, 0x90], 'be16 is network order');
  t.same(layout.decode(into, 5), value);
  const fresh = layout.encode(value);
  t.equal(fresh.length, 40);
  t.same(layout.decode(fresh), value);
});

t.test('u32 uses host byte order, as the kernel does for __u32', async (t) => {
  const l = defineStruct<{ x: number }>('x', [['x', u32]]);
  const bytes = l.encode({ x: 1 });
  const host = new Uint32Array(bytes.buffer, bytes.byteOffset, 1)[0];
  t.equal(host, 1);
});

t.test('a MAC address is six bytes in order, text as ip link shows it', async (t) => {
  const l = defineStruct<{ mac: string }>('m', [['mac', macAddress]]);
  const bytes = l.encode({ mac: '02:00:0a:ff:00:0c' });
  t.same([...bytes], [2, 0, 10, 255, 0, 12]);
  t.same(l.decode(bytes), { mac: '02:00:0a:ff:00:0c' });
  t.throws(() => l.encode({ mac: '02:00:0a:ff:00' }), /not a MAC address/);
  t.throws(() => l.encode({ mac: '02:00:0a:ff:00:zz' }), /not a MAC address/);
});
