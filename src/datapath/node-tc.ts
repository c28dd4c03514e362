// The NodeTc component: tc_node.bpf.o on the node's external devices (--node-devices: its
// uplinks, and any device other nodes' pods are reached by), for north-south connections that
// arrive from outside the node (bpf/tc_node.bpf.c): from-world on ingress, to-world on egress.
// Each device's entry in slb_node_devices (its addresses, for the source NAT of flows to
// another node's backends) is written before the programs go on it, and kept up to date by the
// same periodic scan that puts the programs on devices that appear. Its filters have a handle
// of their own (NODE_TC_HANDLE), so PodTc's scans never take them for a pod's.
import { readFileSync } from 'node:fs';
import { inNetns } from '../bpf/netns.js';
import { listAddresses, listLinks } from '../bpf/rtnetlink.js';
import { NODE_TC_HANDLE, type TcDirection } from '../bpf/tc-attach.js';
import { TypedMap } from '../bpf/typed-map.js';
import { u32KeyLayout } from '../bpf/struct-layout.js';
import { bpfObjectPath } from '../install-paths.js';
import { collectExpiredFlows } from './ct-gc.js';
import { ctKeyLayout, ctNow, type CtKey } from './ct-map.js';
import type { ComponentKind, DatapathComponent, FlowTable, TargetChanges } from './datapath-component.js';
import { closingOnError, loadDatapathObject, removePins } from './datapath-object.js';
import { NODE_CT_CAPACITY, NODE_CT_MAP, NODE_SCRATCH_MAP, NODE_SNAT_PORTS, nodeCtEntryLayout, type NodeCtEntry } from './node-ct-map.js';
import { NODE_DEVICES_MAP, nodeDeviceLayout, nodeDeviceOf, type NodeDevice } from './node-devices-map.js';
import { interfaceMatcher } from './pod-interfaces.js';
import { detachTcEverywhere, syncTcInterfaces, tcAttacher } from './tc-datapath.js';

export const NODE_TC_OBJECT_PATH = bpfObjectPath('tc_node');

const NODE_HOOKS: readonly (readonly [TcDirection, string])[] = [
  ['ingress', 'slb_node_from_world'],
  ['egress', 'slb_node_to_world'],
];

export interface NodeTcConfig {
  /** Name patterns of the node's external devices (--node-devices). */
  devices: readonly string[];
  /** The network namespace (its file) the devices are in; default the agent's own. For an
   * agent that runs outside the node's namespace (the demo's, in-process in a lab). */
  netns?: string;
}

export interface NodeTcComponent extends DatapathComponent {
  /** The north-south flows' table. */
  readonly ct: TypedMap<CtKey, NodeCtEntry>;
  /** The devices the programs are on, by ifindex. */
  readonly devices: TypedMap<{ index: number }, NodeDevice>;
  /** Program fds by name (for BPF_PROG_TEST_RUN in tests). */
  readonly programFds: ReadonlyMap<string, number>;
}

const sameDevice = (a: NodeDevice | undefined, b: NodeDevice): boolean => a !== undefined && a.flags === b.flags && a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6;

/** Why the node's own connections could take the source NAT's ports (net.ipv4.ip_local_port_range
 * reaching into them), or undefined when they cannot. */
function ephemeralPortsOverlap(): string | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low === undefined || high === undefined || high < NODE_SNAT_PORTS.min || low > NODE_SNAT_PORTS.max) return undefined;
    return `net.ipv4.ip_local_port_range (${low}-${high}) reaches into the ports north-south flows to other nodes are source-NATed to (${NODE_SNAT_PORTS.min}-${NODE_SNAT_PORTS.max}): the node's own connection could share a flow's tuple; lower its upper end below ${NODE_SNAT_PORTS.min}`;
  } catch {
    return undefined;
  }
}

export const NodeTc: ComponentKind<NodeTcConfig, NodeTcComponent> = {
  name: 'node-tc',
  install(bpffs, { devices, netns }) {
    const obj = loadDatapathObject(NODE_TC_OBJECT_PATH, bpffs);
    return closingOnError(obj, () => {
      const attach = tcAttacher(obj, NODE_HOOKS, NODE_TC_HANDLE);
      const ct = new TypedMap(NODE_CT_MAP, obj.mapFd(NODE_CT_MAP), ctKeyLayout, nodeCtEntryLayout);
      const deviceMap = new TypedMap(NODE_DEVICES_MAP, obj.mapFd(NODE_DEVICES_MAP), u32KeyLayout, nodeDeviceLayout);
      const matches = interfaceMatcher(devices);
      const sync = (): TargetChanges => (netns ? inNetns(netns, syncHere) : syncHere());
      const syncHere = (): TargetChanges => {
        const links = listLinks();
        const addresses = listAddresses().filter((a) => a.global);
        const present = new Set<number>();
        // The devices' addresses before their programs: a first packet may need them at once.
        for (const link of links.filter((l) => matches(l.name))) {
          const entry = nodeDeviceOf(addresses.filter((a) => a.ifindex === link.index).map((a) => a.address));
          if (!sameDevice(deviceMap.get({ index: link.index }), entry)) deviceMap.set({ index: link.index }, entry);
          present.add(link.index);
        }
        for (const [key] of deviceMap.entries()) if (!present.has(key.index)) deviceMap.delete(key);
        // Devices that stop matching (--node-devices changed) lose the programs.
        return syncTcInterfaces(
          links.map((l) => l.name),
          matches,
          attach,
          NODE_TC_HANDLE,
        );
      };
      const flowTable: FlowTable = {
        map: NODE_CT_MAP,
        capacity: NODE_CT_CAPACITY,
        collect: () => collectExpiredFlows(ct, ctNow(), (e) => e.ct.expires),
      };
      return {
        name: 'node-tc',
        ct,
        devices: deviceMap,
        programFds: new Map(obj.programs.map((p) => [p.name, obj.programFd(p.name)])),
        flowTables: [flowTable],
        setAside: obj.setAside,
        attach() {
          const overlap = ephemeralPortsOverlap();
          return { nodeDevices: devices, ...sync(), ...(overlap ? { warning: overlap } : {}) };
        },
        sync,
        // The scan keeps the filters on, so only the maps can tell that an uninstall ran.
        missing: () => obj.lostMaps(),
        close: () => obj.close(),
      };
    });
  },
  detach(bpffs) {
    const nodeTcFiltersRemoved = detachTcEverywhere(NODE_TC_HANDLE);
    // North-south flows mean nothing without the programs that translate them.
    removePins(bpffs, [NODE_CT_MAP, NODE_DEVICES_MAP, NODE_SCRATCH_MAP]);
    return { nodeTcFiltersRemoved };
  },
};
