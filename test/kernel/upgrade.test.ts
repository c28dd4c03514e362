// An upgrade on a live node, for real: the previous socklb (a commit of this repository, built in
// a temporary checkout) installs and programs the datapath, a client loops connections through
// a VIP, the old agent stops and this one starts over its pins. No connection may fail, and no
// pin of the old layout may stay. Twice: from the previous release as it is (since slb_slots v2
// every map the reconciler writes has a new set, and the counters a new layout), and from it with
// one reconciled map that does not fit at its own version (slb_vips sized differently). This
// agent must migrate both without `socklb uninstall`: build the new maps beside the old ones,
// fill them, swap the programs over. (An agent over maps of its own layout adopts them in
// place: agent-lifecycle.test.ts.)
// SOCKLB_UPGRADE_FROM names the commit (default: PREVIOUS_RELEASE).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { SLOTS_MAP } from '../../src/datapath/backends-map.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { PACKAGE_ROOT } from '../../src/install-paths.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service, webService } from '../helpers/k8s-fixtures.js';

t.setTimeout(900_000);
const BACKENDS = ['be-1', 'be-2'];
const FILLERS = 2000;

const git = (...args: string[]): string => execFileSync('git', ['-C', PACKAGE_ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The last landed socklb before versioned pins (the defects issue landed): what nodes run now. */
const PREVIOUS_RELEASE = '73e11eba7812d6ab7a1358af9665f311eced0f5c';

/** The commit to upgrade from; undefined only outside a git checkout. A checkout without the
 * commit fails the test rather than skipping it. */
function previousCommit(): string | undefined {
  try {
    git('rev-parse', '--git-dir');
  } catch {
    return undefined;
  }
  return git('rev-parse', '--verify', `${process.env.SOCKLB_UPGRADE_FROM ?? PREVIOUS_RELEASE}^{commit}`);
}

const from = previousCommit();
t.test('an agent of the previous commit is upgraded under load', { skip: from ? false : 'not a git checkout: no previous commit to build' }, async (t) => {
  const prev = join('/tmp', `socklb-prev-${process.pid}`);
  git('worktree', 'add', '--detach', prev, from!);
  t.teardown(() => {
    try {
      git('worktree', 'remove', '--force', prev);
    } finally {
      rmSync(prev, { recursive: true, force: true });
      git('worktree', 'prune');
    }
  });
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(prev, 'node_modules'));
  const build = (...script: string[]): void => void execFileSync('npm', ['run', ...script], { cwd: prev, stdio: 'ignore', timeout: 300_000 });
  build('build:bpf');
  build('build:ts');
  const prevCli = join(prev, 'dist', 'src', 'cli', 'main.js');
  t.comment(`previous socklb: ${from!.slice(0, 12)} (${git('log', '-1', '--format=%s', from!).slice(0, 80)})`);

  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const objects = [
    ...webService(
      'ns',
      'web',
      '10.96.0.10',
      80,
      8080,
      BACKENDS.map((b) => lab.pod(b).ipv4),
    ),
    ...Array.from({ length: FILLERS }, (_, i) => [
      service('ns', `filler-${i}`, [`10.96.${1 + (i >> 8)}.${i & 255}`], [{ port: 80, targetPort: 8080 }]),
      endpointSlice('ns', `filler-${i}-1`, `filler-${i}`, 'IPv4', [{ port: 8080 }], [lab.pod('be-1').ipv4]),
    ]).flat(),
  ];
  lab.writeServices(objects);

  /** The old agent programs, a client loops connections, the old agent stops and this one takes over. */
  const upgrade = async (t: Test): Promise<Record<string, unknown>[]> => {
    const old = lab.startAgent(undefined, { cli: prevCli });
    await old.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps', 60_000);
    const load = lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 1_000_000, concurrency: 4, durationMs: 8000, timeoutMs: 1000 });
    await new Promise((r) => setTimeout(r, 500));
    await old.stop();
    const next = lab.startAgent();
    await next.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps', 60_000);
    const r = await load;
    t.same(r.errors, {}, `${r.ok} connections through the VIP across the upgrade, none failed`);
    t.ok(r.ok > 200, `${r.ok} connections`);
    t.same(Object.keys(byBackend(r)).sort(), BACKENDS);
    const maps = readdirSync(join(lab.bpffs, 'maps'));
    t.same(
      maps.filter((m) => m.endsWith('_replaced')),
      [],
      'no pin of the old layout is left',
    );
    const logs = next.logs.filter((l) => l.msg === 'datapath installed' || l.msg.startsWith('upgraded'));
    await next.stop();
    return logs as Record<string, unknown>[];
  };

  /** What both upgrades from the previous release set aside and later remove: every map the
   * reconciler writes (the old slb_slots keeps its name, an older version's), and the old
   * counters. From another commit (SOCKLB_UPGRADE_FROM) what changed since: the pins it set
   * aside, whichever they are. */
  const REBUILT = ['slb_affinity_match_replaced', 'slb_backends_replaced', 'slb_counters', 'slb_frontends_replaced', 'slb_slots', 'slb_vips_replaced'];
  const expectRebuilt = (t: Test, installed: Record<string, unknown> | undefined, upgraded: Record<string, unknown> | undefined): void => {
    const rebuilt = from === PREVIOUS_RELEASE ? REBUILT : (installed?.upgradingFrom as string[] | undefined);
    if (from !== PREVIOUS_RELEASE) t.comment(`set aside when upgrading from ${from!.slice(0, 12)}: ${String(rebuilt)}`);
    t.ok(rebuilt?.length, 'pins of the old layout are set aside');
    t.match(installed, { upgradingFrom: rebuilt }, 'the maps of a changed layout are built anew');
    t.notOk('programs' in installed!, 'the programs are not swapped at install');
    t.match(upgraded, { msg: /^upgraded/, removedPins: rebuilt }, 'the old pins are removed once the programs are swapped');
    t.same(
      (upgraded!.programs as { action: string }[]).map((p) => p.action),
      Array(9).fill('updated'),
      'then each link is updated once',
    );
    t.ok(existsSync(join(lab.bpffs, 'maps', pinName(SLOTS_MAP))), `${pinName(SLOTS_MAP)} is pinned`);
  };

  t.test('the previous release: slb_slots has a new layout (v2), so the reconciled maps are built beside the old, filled, then one swap per hook', async (t) => {
    const [installed, upgraded] = await upgrade(t);
    expectRebuilt(t, installed, upgraded);
  });

  t.test('a reconciled map that does not fit at its own version (slb_vips sized differently): set aside, and the others with it', async (t) => {
    const header = join(prev, 'bpf', 'include', 'vips_map.h');
    writeFileSync(header, readFileSync(header, 'utf8').replace(/#define VIPS_MAX FRONTENDS_MAX/, '#define VIPS_MAX 32768'));
    build('build:bpf');
    // The unchanged agent of the previous commit, on maps of the other layout: start from none.
    execFileSync(process.execPath, [prevCli, 'uninstall', '--bpffs', lab.bpffs], { stdio: 'ignore' });
    const [installed, upgraded] = await upgrade(t);
    expectRebuilt(t, installed, upgraded);
  });
});
