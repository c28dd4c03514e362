// koffi's layout of libbpf's option structs (src/bpf/libbpf.ts) against C's: a probe compiled
// with the installed libbpf headers prints sizeof and every member's offsetof, and each must
// equal what koffi computed. libbpf checks only the size (the sz field), so a member declared
// in the wrong place would otherwise pass it silently and write garbage into another field.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LIBBPF_STRUCTS, libbpfFieldOffset, libbpfStructSize, type LibbpfStruct } from '../../src/bpf/libbpf.js';

const names = Object.keys(LIBBPF_STRUCTS) as LibbpfStruct[];
const lines = names.flatMap((name) => [
  `printf("%s %zu\\n", "${name}", sizeof(struct ${name}));`,
  ...Object.keys(LIBBPF_STRUCTS[name]).map((field) => `printf("%s %zu\\n", "${name}.${field}", offsetof(struct ${name}, ${field}));`),
]);
const probe = `#include <stddef.h>\n#include <stdio.h>\n#include <bpf/bpf.h>\n#include <bpf/libbpf.h>\nint main(void) {\n${lines.join('\n')}\nreturn 0;\n}\n`;

t.test('every libbpf struct socklb passes has the size and member offsets of the installed headers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-libbpf-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'probe.c'), probe);
  execFileSync('cc', ['-o', join(dir, 'probe'), join(dir, 'probe.c')]);
  const inC = new Map(
    execFileSync(join(dir, 'probe'), { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  );
  for (const name of names) {
    t.equal(libbpfStructSize(name), inC.get(name), `sizeof(struct ${name})`);
    for (const field of Object.keys(LIBBPF_STRUCTS[name])) t.equal(libbpfFieldOffset(name, field), inC.get(`${name}.${field}`), `offsetof(struct ${name}, ${field})`);
  }
});
