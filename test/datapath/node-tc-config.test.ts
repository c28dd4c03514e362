// The pure parts of NodeTc's configuration: which components a mode and its flags compose,
// the interface name patterns --node-devices takes (the same as --pod-interfaces), and the
// device entry the programs read for a source NAT.
import t from 'tap';
import { modeComponents } from '../../src/datapath/datapath-mode.js';
import { NODE_DEVICE_FLAGS, nodeDeviceOf } from '../../src/datapath/node-devices-map.js';
import { commaList, interfaceMatcher, parseInterfacePatterns } from '../../src/datapath/pod-interfaces.js';

t.test('modes compose NodeTc only with --node-devices, in either mode', async (t) => {
  const base = { cgroup: '/sys/fs/cgroup/x', podInterfaces: ['veth*'] };
  t.same(Object.keys(modeComponents('socket', base)), ['socket-hooks']);
  t.same(Object.keys(modeComponents('socket', { ...base, nodeDevices: [] })), ['socket-hooks'], 'an empty list is none');
  t.same(modeComponents('socket', { ...base, nodeDevices: ['eth*'] })['node-tc'], { devices: ['eth*'] });
  t.same(Object.keys(modeComponents('socket', { ...base, networkPolicy: true, nodeDevices: ['eth0'] })), ['socket-hooks', 'pod-tc', 'node-tc']);
  t.same(Object.keys(modeComponents('conntrack', { ...base, nodeDevices: ['eth0'] })), ['pod-tc', 'node-tc']);
  t.same(Object.keys(modeComponents('conntrack', base)), ['pod-tc']);
});

t.test('interface name patterns', async (t) => {
  t.same(commaList(' eth0, ,ens*,'), ['eth0', 'ens*']);
  t.same(parseInterfacePatterns('eth0,ens*', '--node-devices'), ['eth0', 'ens*']);
  t.throws(() => parseInterfacePatterns(' , ', '--node-devices', 'eth0,ens*'), /--node-devices is empty; give name patterns such as "eth0,ens\*"/);
  t.throws(() => parseInterfacePatterns('eth0,e th1', '--node-devices'), /--node-devices: "e th1" is not an interface name pattern/);
  const m = interfaceMatcher(['ext*', 'flannel.1', 'en?']);
  t.same(['ext0', 'ext12', 'flannel.1', 'flannelx1', 'ens', 'ens3', 'veth1'].filter(m), ['ext0', 'ext12', 'flannel.1', 'ens']);
});

t.test("a device's entry: its first global address of each family, flags saying which", async (t) => {
  t.same(nodeDeviceOf(['198.18.0.1', 'fd00:e0::1', '198.18.0.5']), { ipv4: '198.18.0.1', ipv6: 'fd00:e0::1', flags: NODE_DEVICE_FLAGS.ipv4 | NODE_DEVICE_FLAGS.ipv6 });
  t.same(nodeDeviceOf(['fd00:e0::1']), { ipv4: '0.0.0.0', ipv6: 'fd00:e0::1', flags: NODE_DEVICE_FLAGS.ipv6 });
  t.same(nodeDeviceOf([]), { ipv4: '0.0.0.0', ipv6: '::', flags: 0 }, 'no address: a flow to another node through it is dropped, counted');
});
