// The PodTc component: tc programs on the host-side end of every pod interface (from-pod on
// ingress, to-pod on egress), found by name patterns and kept up to date by a scan of the
// network namespace the agent runs in. Two objects for the same attachment points:
//   translate  tc_lb.bpf.o: service traffic translated per packet with a conntrack entry per
//              flow (conntrack mode), and with `policy` NetworkPolicy on the same conntrack;
//   policy     tc_policy.bpf.o: NetworkPolicy only (socket mode with --network-policy: the
//              socket hooks translate), with the lightweight conntrack of isolated pods.
// Both objects share the policy tables by their pins.
import type { Cidr } from '../net/cidr.js';
import { listInterfaces } from '../bpf/interfaces.js';
import type { KeyValueMap } from '../bpf/typed-map.js';
import { collectExpiredFlows } from './ct-gc.js';
import { CT_CAPACITY, CT_MAP, type CtEntry, type CtKey } from './ct-map.js';
import { POLICY_CAPACITY, POLICY_CT_MAP, POLICY_MAPS } from './policy-maps.js';
import { SOCK_POLICY_MAPS } from './pod-netns-map.js';
import { installPolicyTc } from './policy-tc.js';
import type { PolicyMaps } from './policy-tables.js';
import type { ComponentKind, DatapathComponent, TargetChanges } from './datapath-component.js';
import { removePins } from './datapath-object.js';
import { interfaceMatcher } from './pod-interfaces.js';
import { POD_LINKS_MAP } from './pod-links-map.js';
import { detachTcEverywhere, installTcDatapath, syncTcInterfaces } from './tc-datapath.js';

export interface PodTcConfig {
  /** Name patterns of the pods' host-side interfaces (--pod-interfaces). */
  podInterfaces: readonly string[];
  /** false: the policy object (no translation); default true: the translating one. */
  translate?: boolean;
  /** The translating object enforces NetworkPolicy too (the policy object always does). */
  policy?: boolean;
  /** --service-cidrs, for the translating object's lookup order (service_ranges_map.h). */
  serviceCidrs?: readonly Cidr[];
}

export interface PodTcComponent extends DatapathComponent {
  /** The flow table of the programs: conntrack mode's flows, or the policy's reply entries. */
  readonly ct: KeyValueMap<CtKey, CtEntry>;
  /** The compiled NetworkPolicy tables, with the policy object. */
  readonly policy?: PolicyMaps;
  /** Puts the programs on one interface (a local pod's, found by its route: pod-interface-of.ts),
   * whatever its name; true if it changed anything. */
  attachInterface(ifname: string): boolean;
  /** Removes the programs from every interface of this network namespace; the maps stay. */
  detachInterfaces(): string[];
}

export const PodTc: ComponentKind<PodTcConfig, PodTcComponent> = {
  name: 'pod-tc',
  install(bpffs, { podInterfaces, translate = true, policy = !translate, serviceCidrs }) {
    // Without policy the translating object starts from empty tables: the pinned ones of an
    // agent that had it would otherwise go on enforcing what nothing updates any more.
    if (!policy) removePins(bpffs, POLICY_TABLES);
    const translating = translate ? installTcDatapath({ bpffs, ...(serviceCidrs ? { serviceCidrs } : {}) }) : undefined;
    const dp = translating ?? installPolicyTc({ bpffs });
    const matches = interfaceMatcher(podInterfaces);
    // Pods come and go; interfaces that stop matching (--pod-interfaces changed) lose the filters.
    const sync = (): TargetChanges => syncTcInterfaces(listInterfaces(), matches, dp.attach);
    return {
      name: 'pod-tc',
      maps: translating?.maps,
      policy: policy ? dp.policy : undefined,
      ct: dp.ct,
      flowTables: [{ map: dp.ct.name, capacity: FLOW_TABLE_CAPACITY[dp.ct.name] ?? 0, collect: () => collectExpiredFlows(dp.ct) }],
      setAside: dp.setAside,
      attach: () => ({ podInterfaces, ...sync() }),
      sync,
      attachInterface: (ifname) => dp.attach(ifname),
      detachInterfaces: () => detachTcEverywhere(),
      // The scan keeps the filters on, so only the maps can tell that an uninstall ran.
      missing: () => dp.missing(),
      close: () => dp.close(),
    };
  },
  detach(bpffs) {
    const tcFiltersRemoved = detachTcEverywhere();
    // Conntrack state, the pods' links and the policy tables mean nothing without the tc
    // programs (with them gone nothing is enforced; a later agent with policy compiles anew).
    // The socket hooks' pods by namespace go with them: policy runs with both or neither.
    removePins(bpffs, [CT_MAP, POD_LINKS_MAP, ...POLICY_MAPS, ...SOCK_POLICY_MAPS]);
    return { tcFiltersRemoved };
  },
};

/** max_entries of the two objects' flow tables (checked against BTF). */
const FLOW_TABLE_CAPACITY: Readonly<Record<string, number>> = { [CT_MAP]: CT_CAPACITY, [POLICY_CT_MAP]: POLICY_CAPACITY.ct };

/** The compiled policy's tables (not the policy's conntrack). */
const POLICY_TABLES = POLICY_MAPS.filter((map) => map !== POLICY_CT_MAP);
