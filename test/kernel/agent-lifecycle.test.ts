// The agent's life cycle against the real kernel: stopped, restarted, listed, uninstalled.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import t from 'tap';
import { SLOTS_MAP } from '../../src/datapath/backends-map.js';
import { COUNTERS_MAP } from '../../src/datapath/counters-map.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices, endpointSlice, service } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2', 'be-3'];

/** Program ids attached to the cgroup, from bpftool (what the kernel says, not what we think). */
function attachedPrograms(cgroup: string): { id: number; attach_type: string; name: string }[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup], { encoding: 'utf8' }).trim() || '[]') as { id: number; attach_type: string; name: string }[];
}

const socklb = (...args: string[]): string => execFileSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

t.test('agent life cycle', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const web = [
    service('ns', 'web', ['10.96.0.10', 'fd00:96::10'], [{ port: 80, targetPort: 8080 }]),
    ...dualStackSlices(
      'ns',
      'web',
      [{ port: 8080 }],
      BACKENDS.map((b) => lab.pod(b)),
    ),
  ];
  lab.writeServices(web);
  const first = lab.startAgent();
  await first.nextSync();
  const attached = attachedPrograms(lab.net.cgroup.path);
  t.same(
    attached.map((p) => p.attach_type).sort(),
    [
      'cgroup_inet4_connect',
      'cgroup_inet4_getpeername',
      'cgroup_inet6_connect',
      'cgroup_inet6_getpeername',
      'cgroup_inet_sock_release',
      'cgroup_udp4_recvmsg',
      'cgroup_udp4_sendmsg',
      'cgroup_udp6_recvmsg',
      'cgroup_udp6_sendmsg',
    ],
    'one program per hook',
  );

  t.test('service list reads the pinned maps', async (t) => {
    const listed = JSON.parse(socklb('service', 'list', '--bpffs', lab.bpffs, '--json')) as {
      frontend: { address: string; port: number; protocol: string };
      backends: { address: string }[];
    }[];
    t.same(
      listed.map((s) => `${s.frontend.address}:${s.frontend.port}/${s.frontend.protocol}`),
      ['10.96.0.10:80/TCP', 'fd00:96::10:80/TCP'],
    );
    t.same(listed[0]!.backends.map((b) => b.address).sort(), BACKENDS.map((b) => lab.pod(b).ipv4).sort());
    const table = socklb('service', 'list', '--bpffs', lab.bpffs);
    t.match(table, /^ID\s+FRONTEND\s+BACKENDS\n1\s+10\.96\.0\.10:80\/TCP\s+1\) 10\.244\.0\.\d+:8080\n/);
    t.match(table, /\[fd00:96::10\]:80\/TCP\s+1\) \[fd00:244::[0-9a-f]+\]:8080/);
  });

  t.test('with the agent stopped, existing and new connections are still balanced', async (t) => {
    const existing = lab.probe({ mode: 'tcp-persistent', host: '10.96.0.10', port: 80, count: 100_000, concurrency: 3, durationMs: 2500, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 500));
    await first.stop();
    t.equal(await first.exited, 0, 'the agent exits cleanly on SIGTERM');
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 150, concurrency: 3 });
    t.equal(r.ok, 150);
    t.same(Object.keys(byBackend(r)).sort(), BACKENDS, 'new connections spread over all backends');
    const held = await existing;
    t.same(held.errors, {}, `${held.ok} requests on long-lived connections, none failed`);
    t.ok(held.ok > 50);
  });

  t.test('a restarted agent adopts pins and links: no duplicate, no write', async (t) => {
    const second = lab.startAgent();
    const installed = await second.waitForLog((l) => l.msg === 'datapath installed');
    t.same(
      (installed.programs as { action: string }[]).map((p) => p.action),
      Array(9).fill('updated'),
      'each pinned link is updated in place',
    );
    const synced = await second.nextSync();
    t.match(synced, { mapOperations: 0, frontends: 2, backends: 6 }, 'the maps already matched the file');
    t.equal(attachedPrograms(lab.net.cgroup.path).length, 9, 'still one program per hook');
    t.same(readdirSync(`${lab.bpffs}/maps`).sort(), [
      'slb_affinity',
      'slb_affinity_match',
      'slb_backends',
      pinName(COUNTERS_MAP),
      'slb_frontends',
      'slb_random',
      'slb_revnat_sk',
      'slb_service_ranges',
      pinName(SLOTS_MAP),
      'slb_sock_revnat',
      'slb_udp_departed',
      'slb_udp_revnat',
      'slb_udp_sock_keys',
      'slb_vips',
    ]);
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 60, concurrency: 2 });
    t.same(Object.keys(byBackend(r)).sort(), BACKENDS);
    await second.stop();
  });

  t.test('an agent upgrading maps pinned without slb_vips fills it before its programs run', async (t) => {
    // Enough services that adopting them takes a while: programs attached before the VIP map
    // is filled would take every VIP for no service (untranslated: a timeout in this lab).
    const FILLERS = 3000;
    const fillers = Array.from({ length: FILLERS }, (_, i) => [
      service('ns', `filler-${i}`, [`10.96.${1 + (i >> 8)}.${i & 255}`], [{ port: 80, targetPort: 8080 }]),
      endpointSlice('ns', `filler-${i}-1`, `filler-${i}`, 'IPv4', [{ port: 8080 }], [lab.pod('be-1').ipv4]),
    ]).flat();
    lab.writeServices([...web, ...fillers]);
    const old = lab.startAgent();
    t.match(await old.nextSync(30_000), { errors: 0, vips: 2 + FILLERS });
    const load = lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 1_000_000, concurrency: 4, durationMs: 5000, timeoutMs: 1000 });
    await new Promise((r) => setTimeout(r, 300));
    await old.stop();
    // What an earlier socklb leaves: every map but this one (its programs, still attached,
    // keep the unpinned map until they are replaced).
    rmSync(`${lab.bpffs}/maps/slb_vips`);
    const upgraded = lab.startAgent();
    const adopted = await upgraded.waitForLog((l) => l.msg === 'adopted the pinned maps', 30_000);
    t.match(adopted, { frontends: 2 + FILLERS, vips: 2 + FILLERS }, 'every address is back in the new map');
    const r = await load;
    t.same(r.errors, {}, `${r.ok} connections across the upgrade, none failed`);
    t.ok(r.ok > 100);
    await upgraded.stop();
    lab.writeServices(web);
  });

  t.test('maps pinned by an incompatible version are set aside and built anew, never "run uninstall"', async (t) => {
    const stale = lab.net.labRun.bpffs('stale');
    mkdirSync(`${stale}/maps`, { recursive: true });
    t.teardown(() => {
      try {
        socklb('uninstall', '--bpffs', stale);
      } finally {
        rmSync(stale, { recursive: true, force: true });
      }
    });
    execFileSync('bpftool', ['map', 'create', `${stale}/maps/slb_frontends`, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '16', 'name', 'slb_frontends']);
    const agent = lab.startAgent(undefined, { bpffs: stale });
    const upgraded = await agent.waitForLog((l) => l.msg.startsWith('upgraded'), 30_000);
    t.match(upgraded.removedPins, ['slb_frontends_replaced'], 'the misfit pin was set aside, then removed once the new maps were filled');
    await agent.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps');
    t.notOk(existsSync(`${stale}/maps/slb_frontends_replaced`));
    const listed = JSON.parse(socklb('service', 'list', '--bpffs', stale, '--json')) as unknown[];
    t.equal(listed.length, 2, 'the new slb_frontends holds the services');
    await agent.stop();
  });

  t.test('uninstall detaches every program and removes every pin', async (t) => {
    t.match(socklb('uninstall', '--bpffs', lab.bpffs), /^detached 9 socket programs and the tc programs of 0 interfaces, removed 14 maps/);
    t.same(attachedPrograms(lab.net.cgroup.path), []);
    t.notOk(existsSync(lab.bpffs));
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 1, timeoutMs: 500 });
    t.same(r.errors, { ETIMEDOUT: 1 }, 'the VIP is no longer translated (its route in the lab is a blackhole)');
    t.throws(() => socklb('service', 'list', '--bpffs', lab.bpffs), /no socklb datapath is pinned/);
  });
});
