import t from 'tap';
import { checkCanLoadBpf, effectiveCapabilities, kernelTooOld, missingCapabilities } from '../../src/bpf/preflight.js';

const status = (capEff: string): string => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

t.test('capabilities from /proc/self/status', async (t) => {
  t.equal(effectiveCapabilities(status('000001ffffffffff')), 0x1ffffffffffn);
  t.equal(effectiveCapabilities('no such line'), 0n);
  t.same(missingCapabilities(0x1ffffffffffn), [], 'root has all');
  t.same(missingCapabilities(0n), ['CAP_NET_ADMIN', 'CAP_BPF (or CAP_SYS_ADMIN)', 'CAP_PERFMON (or CAP_SYS_ADMIN)']);
  t.same(missingCapabilities((1n << 12n) | (1n << 39n) | (1n << 38n)), [], 'NET_ADMIN + BPF + PERFMON suffice');
  t.same(missingCapabilities((1n << 12n) | (1n << 21n)), [], 'SYS_ADMIN stands in for BPF and PERFMON');
  t.same(missingCapabilities(1n << 39n), ['CAP_NET_ADMIN', 'CAP_PERFMON (or CAP_SYS_ADMIN)']);
});

t.test('kernel version floor', async (t) => {
  t.notOk(kernelTooOld('6.18.44-fc-v669'));
  t.notOk(kernelTooOld('5.18.0'));
  t.ok(kernelTooOld('5.17.9'));
  t.ok(kernelTooOld('4.19.0-25-amd64'));
  t.notOk(kernelTooOld('weird'), 'an unknown format is left to the kernel');
});

t.test('one message naming everything that is missing', async (t) => {
  t.throws(() => checkCanLoadBpf(status('0000000000000000'), '5.10.0'), {
    message:
      'cannot install the socklb datapath: this process lacks CAP_NET_ADMIN, CAP_BPF (or CAP_SYS_ADMIN), CAP_PERFMON (or CAP_SYS_ADMIN): run as root, or grant them (the DaemonSet does); the kernel is 5.10.0; socklb needs Linux 5.18 or newer',
  });
  t.doesNotThrow(() => checkCanLoadBpf(), 'this machine, as root, can');
});
