import t from 'tap';
import { bpffsMountFor, findCgroup2Root, readMounts } from '../../src/bpf/kernel-env.js';

const hybrid = `tmpfs /sys/fs/cgroup tmpfs rw 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0
bpf /sys/fs/bpf bpf rw 0 0
bpf /sys/fs/bpf/inner\\040dir bpf rw 0 0
`;
const unified = 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n';

t.test('the cgroup2 root comes from /proc/mounts, hybrid or unified', async (t) => {
  t.equal(findCgroup2Root(readMounts(hybrid)), '/sys/fs/cgroup/unified');
  t.equal(findCgroup2Root(readMounts(unified)), '/sys/fs/cgroup');
  t.throws(() => findCgroup2Root(readMounts('proc /proc proc rw 0 0\n')), /no cgroup2 filesystem is mounted/);
});

t.test('bpffs mounts: the deepest one containing the path; escapes decoded', async (t) => {
  const m = readMounts(hybrid);
  t.equal(bpffsMountFor('/sys/fs/bpf/socklb', m), '/sys/fs/bpf');
  t.equal(bpffsMountFor('/sys/fs/bpf/inner dir/x', m), '/sys/fs/bpf/inner dir');
  t.equal(bpffsMountFor('/sys/fs/bpfx', m), undefined);
  t.equal(bpffsMountFor('/tmp/x', m), undefined);
});

t.test('this machine has a cgroup2 mount', async (t) => {
  t.match(findCgroup2Root(), /^\/sys\/fs\/cgroup/);
});
