// The source conntrack mode gives a pod's connection that is balanced to the pod itself
// (hairpin; lb_hairpin_address in bpf/tc_lb.bpf.c, checked by the whole-frame tests): the pod
// answers it through its route to the node, where the programs turn the answer back into the pod.
// A pod needs a route to it through the node, as every pod's default route is.
export const HAIRPIN_ADDRESS = { v4: '169.254.42.1', v6: '100::42:1' } as const;
