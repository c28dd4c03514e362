// Socket mode's tc datapath for NetworkPolicy: tc_policy.bpf.o (no translation: the socket
// hooks did it) on the pods' host-side interfaces, in the places conntrack mode's programs
// take (from-pod on ingress, to-pod on egress), with the compiled policy tables and the
// lightweight conntrack of isolated pods' flows pinned beside the other maps.
import type { TcDirection } from '../bpf/tc-attach.js';
import { TypedMap } from '../bpf/typed-map.js';
import { ctEntryLayout, ctKeyLayout, type CtEntry, type CtKey } from './ct-map.js';
import { closingOnError, loadDatapathObject } from './datapath-object.js';
import { POLICY_CT_MAP } from './policy-maps.js';
import { openPolicyMaps, type PolicyMaps } from './policy-tables.js';
import { TC_POLICY_OBJECT_PATH, tcAttacher } from './tc-datapath.js';

const POLICY_HOOKS: readonly (readonly [TcDirection, string])[] = [
  ['ingress', 'slb_pol_from_pod'],
  ['egress', 'slb_pol_to_pod'],
];

export interface PolicyTcDatapath {
  policy: PolicyMaps;
  /** Reply entries of isolated pods' allowed flows. */
  ct: TypedMap<CtKey, CtEntry>;
  programFds: ReadonlyMap<string, number>;
  attach(ifname: string): boolean;
  setAside: readonly string[];
  missing(): string[];
  close(): void;
}

export function installPolicyTc(opts: { bpffs: string }): PolicyTcDatapath {
  const obj = loadDatapathObject(TC_POLICY_OBJECT_PATH, opts.bpffs);
  return closingOnError(obj, () => ({
    policy: openPolicyMaps((name) => obj.mapFd(name)),
    ct: new TypedMap(POLICY_CT_MAP, obj.mapFd(POLICY_CT_MAP), ctKeyLayout, ctEntryLayout),
    programFds: new Map(obj.programs.map((p) => [p.name, obj.programFd(p.name)])),
    attach: tcAttacher(obj, POLICY_HOOKS),
    setAside: obj.setAside,
    missing: () => obj.lostMaps(),
    close: () => obj.close(),
  }));
}
