// A small run of `socklb bench` (the quick profile, shortened): every section runs in every mode
// the machine offers on real namespaces, and the run's own checks pass: no failed transaction,
// every answer from the service's backends and all of them reached, no kernel conntrack where
// a mode should not have any. Also the issue-3 control-plane benchmark, briefly.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { benchControlPlane } from '../../src/bench/control-plane.js';
import { PROFILES, SECTION_IDS } from '../../src/bench/suite/profiles.js';
import { runSuite } from '../../src/bench/suite/run-suite.js';
import type { SuiteResult } from '../../src/bench/report/suite-result.js';

t.test('the suite, quick and small', async (t) => {
  const profile = {
    ...PROFILES.quick,
    durationMs: 300,
    servicePoints: [1, 50],
    podPoints: [3],
    stateConnections: 300,
    legacyServicePoints: [50],
    policyPodPoints: [1],
    controlPlanePoints: [100],
    controlPlaneChanges: 2,
  };
  const lines: string[] = [];
  const statsSysctl = (): string => readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  const statsBefore = statsSysctl();
  const soFar: SuiteResult[] = [];
  const r = await runSuite(profile, SECTION_IDS, 'test', (l) => lines.push(l), (partial) => soFar.push(structuredClone(partial)));
  t.same(
    soFar.map((p) => [p.sections.length, p.notRun?.length ?? 0]),
    SECTION_IDS.map((_, i) => [i + 1, SECTION_IDS.length - i - 1]),
    'the result so far after every section: the sections done, the rest not run',
  );
  t.notOk('notRun' in r, 'the finished result has no sections left');
  t.equal(statsSysctl(), statsBefore, 'kernel.bpf_stats_enabled is as it was before the run');
  t.same(r.problems, [], 'every run passed its checks');
  t.same(
    r.sections.map((s) => s.id),
    [...SECTION_IDS],
  );
  const ipvs = r.sections[0]!.unavailable.find((u) => u.mode === 'ipvs');
  const expected = ['socket', 'conntrack', 'iptables', 'nftables', ...(ipvs ? [] : ['ipvs']), 'direct'];
  if (ipvs) t.match(ipvs.reason, /IPVS/, 'a mode the kernel lacks is reported with its reason, not a number');
  for (const s of r.sections.filter((s) => !['control-plane', 'hooks', 'iptables-legacy', 'macvlan', 'policy', 'north-south', 'node-paths'].includes(s.id))) {
    const xs = s.xLabel ? (s.id === 'service-scalability' ? [1, 50] : [3]) : [undefined];
    for (const x of xs)
      for (const mode of expected) {
        const row = s.rows.find((row) => row.mode === mode && row.x === x);
        t.ok(row, `${s.id}${x === undefined ? '' : ` at ${x}`}: ${mode} measured`);
        const primary = row?.values[s.primary];
        if (s.id !== 'state') t.ok(primary && primary.median > 0, `${s.id}: ${mode} ${s.primary} ${primary?.median}`);
      }
  }
  const state = r.sections.find((s) => s.id === 'state')!;
  const at = (mode: string, metric: string): number => state.rows.find((row) => row.mode === mode)!.values[metric]!.median;
  t.equal(at('socket', 'flows'), 0, 'socket mode tracks no flow');
  t.equal(at('conntrack', 'socklb'), 300, 'conntrack mode: one socklb flow per connection');
  t.equal(at('conntrack', 'kernel'), 0, '... and none in the kernel');
  t.equal(at('iptables', 'kernel'), 300, 'iptables: one kernel conntrack entry per connection');
  const macvlan = r.sections.find((s) => s.id === 'macvlan')!;
  t.same(
    macvlan.rows.map((row) => row.mode),
    ['socket', 'direct'],
    'on MacVlan pods only socket mode balances (and direct connects)',
  );
  for (const mode of ['conntrack', 'iptables', 'nftables'])
    t.match(
      macvlan.unavailable.find((u) => u.mode === mode)?.reason,
      /does not balance on macvlan pods: .*the trial run: .*failed transactions/,
      `${mode} on MacVlan: not working, with what its trial saw`,
    );
  const policy = r.sections.find((s) => s.id === 'policy')!;
  for (const mode of ['socket', 'socket+policy', 'conntrack', 'iptables', 'iptables+calico', 'direct']) {
    const row = policy.rows.find((row) => row.mode === mode && row.x === 1);
    t.ok(row && row.values.shortRate!.median > 0 && row.values.longRate!.median > 0, `policy: ${mode} measured on short and long connections`);
  }
  const ctPolicy = policy.rows.find((row) => row.mode === 'conntrack+policy');
  if (!ctPolicy) t.match(policy.unavailable.find((u) => u.mode === 'conntrack+policy')?.reason, /does not enforce/, 'conntrack+policy: measured, or reported as not enforcing');
  // From outside the node: every mode in both cases; only socklb's table holds these flows in
  // socket mode, only the kernel's under kube-proxy's rules.
  const northSouth = r.sections.find((s) => s.id === 'north-south')!;
  for (const c of ['local', 'remote'])
    for (const mode of ['socket', 'iptables', 'nftables', 'direct']) {
      const row = northSouth.rows.find((row) => row.mode === `${mode}, ${c}`);
      t.ok(row && row.values.rate!.median > 0, `north-south ${c}: ${mode} measured`);
      if (mode === 'socket')
        t.ok(row && row.values.socklbFlows!.median > 0 && row.values.kernelConntrack!.median === 0, `north-south ${c}: socket's flows in slb_node_ct, none in the kernel's`);
      if (mode === 'iptables') t.ok(row && row.values.kernelConntrack!.median > 0 && row.values.socklbFlows!.median === 0, `north-south ${c}: iptables' in the kernel's`);
    }
  // NodeTc's paths, each with its verdict checked (a wrong one is a problem above): every one
  // measured, a pass cheaper than a new flow.
  const nodePaths = r.sections.find((s) => s.id === 'node-paths')!;
  t.equal(nodePaths.rows.length, 10, 'node-paths: ten paths');
  for (const row of nodePaths.rows) t.ok(row.values.ns!.median > 0, `node-paths ${row.mode}: measured`);
  const nsOf = (label: string): number => nodePaths.rows.find((row) => row.mode === label)!.values.ns!.median;
  t.ok(nsOf('pass: traffic the node forwards') < nsOf('new flow, remote backend (source NAT)'), 'node-paths: a pass costs less than a source-NATed new flow');
  const legacy = r.sections.find((s) => s.id === 'iptables-legacy')!;
  t.same(
    legacy.rows.map((row) => `${row.mode}@${row.x}`),
    ['direct@50', 'iptables@50', 'iptables-legacy@50'],
    'iptables on both backends beside direct',
  );
  for (const row of legacy.rows) t.ok(row.values.rate!.median > 0 && (row.mode === 'direct' || row.ratioToDirect! > 0), `iptables-legacy section: ${row.mode} measured`);
  const hooks = r.sections.find((s) => s.id === 'hooks')!;
  // Every socket program runs in some workload, once per transaction where one call is due.
  const perTransaction: [string, string][] = [
    ['socket tcp', 'slb_connect4'],
    ['socket tcp', 'slb_getpeername4'],
    ['socket tcp', 'slb_sock_release'],
    ['socket tcp v4-mapped', 'slb_connect6'],
    ['socket tcp v4-mapped', 'slb_getpeername6'],
    ['socket connected udp', 'slb_connect4'],
    ['socket connected udp', 'slb_recvmsg4'],
    ['socket connected udp v4-mapped', 'slb_recvmsg6'],
    ['socket udp', 'slb_sendmsg4'],
    // A datagram to a v4-mapped address leaves through the IPv4 path and its sendmsg4 hook.
    ['socket udp v4-mapped', 'slb_sendmsg4'],
    ['socket tcp to pods', 'slb_connect4'],
  ];
  for (const x of [1, 50])
    for (const [run, program] of perTransaction) {
      const row = hooks.rows.find((row) => row.mode === `${run}: ${program}` && row.x === x);
      t.ok(row && row.values.nsPerCall!.median > 0 && row.values.cpuUs!.median > 0, `hooks at ${x}: ${run}: ${program} costs ${row?.values.nsPerCall?.median} ns a call`);
      const calls = row?.values.callsPerTransaction?.median ?? 0;
      t.ok(Math.abs(calls - 1) < 0.01, `hooks at ${x}: ${run}: ${program} runs once per transaction (${calls})`);
    }
  const tc = hooks.rows.filter((row) => row.mode.startsWith('conntrack tcp: ') && row.x === 1);
  t.equal(tc.length, 2, `conntrack mode: both tc programs measured (${tc.map((row) => row.mode).join(', ')})`);
  // Every packet of a connection meets slb_tc_from_pod (the client's, and the backend's replies
  // on the backend's interface); translated packets are redirected into the pods past their
  // interfaces' egress, so slb_tc_to_pod sees only what reaches a pod the node's way.
  const fromPod = tc.find((row) => row.mode.endsWith('slb_tc_from_pod'));
  t.ok(fromPod && fromPod.values.callsPerTransaction!.median >= 4, `slb_tc_from_pod: per packet, ${fromPod?.values.callsPerTransaction?.median} packets a connection`);
  t.ok(hooks.rows.find((row) => row.mode === 'direct tcp')?.values.cpuUs?.median, 'direct: CPU per connection, for comparison');
  const cp = r.sections.find((s) => s.id === 'control-plane')!;
  t.same(cp.rows.map((row) => row.mode).sort(), ['conntrack', 'iptables', 'nftables', 'socket']);
  for (const row of cp.rows) t.ok(row.values.programMs!.median > 0 && row.values.changeMs!.samples.length === 2, `${row.mode}: programmed and changed`);
});

t.test('control plane (issue 3): programs every service and times changes', async (t) => {
  const r = await benchControlPlane({ services: 50, endpoints: 3, changes: 3 }, () => undefined);
  t.equal(r.coldMapOperations, 50 * (1 + 1 + 3 + 3), 'a frontend, its address, three slots and three backends per service');
  t.equal(r.changeMs.samples, 3);
  t.ok(r.changeMapOperations >= 3, 'a change writes at least a backend, a slot and the frontend');
});
