// The suite's sizes: how long each run is, how often modes repeat, and the points of the
// sweeps. quick fits CI smoke runs and a first look (< 5 min); full is the published run
// (< 45 min on a 2-core machine). Pure data.
export interface SuiteProfile {
  name: string;
  /** Length of one client run. */
  durationMs: number;
  /** Interleaved repetitions of every mode per point (A B C, then C B A, ...). */
  repetitions: number;
  /** Backend pods behind the measured service outside the pod sweep. */
  backends: number;
  /** Services programmed in each point of the service sweep; the measured one is the last. */
  servicePoints: number[];
  /** Backend pods in each point of the pod sweep. */
  podPoints: number[];
  /** Connections in the state section (conntrack entries and CPU after exactly this many). */
  stateConnections: number;
  /** Pods (and as many NetworkPolicies) in each point of the policy section. */
  policyPodPoints: number[];
  /** Services programmed in each point of the iptables-legacy section. */
  legacyServicePoints: number[];
  /** Services (x 3 endpoints) in each point of the control-plane section. */
  controlPlanePoints: number[];
  /** Single-endpoint changes timed per control-plane point. */
  controlPlaneChanges: number;
}

export const PROFILES: Record<'quick' | 'full', SuiteProfile> = {
  quick: {
    name: 'quick',
    durationMs: 1000,
    repetitions: 1,
    backends: 3,
    servicePoints: [1, 1000],
    podPoints: [3, 10],
    stateConnections: 2000,
    legacyServicePoints: [1, 1000],
    policyPodPoints: [1, 120],
    controlPlanePoints: [1000],
    controlPlaneChanges: 5,
  },
  full: {
    name: 'full',
    durationMs: 3000,
    repetitions: 5,
    backends: 3,
    servicePoints: [1, 100, 1000, 5000, 10000],
    podPoints: [3, 10, 50, 150],
    stateConnections: 10000,
    legacyServicePoints: [1, 5000],
    policyPodPoints: [1, 120],
    controlPlanePoints: [1000, 5000, 10000],
    controlPlaneChanges: 20,
  },
};

export const SECTION_IDS = ['pod-network', 'short-connections', 'long-connections', 'bulk', 'udp', 'service-scalability', 'pod-scalability', 'state', 'hooks', 'routed-veth', 'macvlan', 'policy', 'iptables-legacy', 'north-south', 'node-paths', 'control-plane'] as const;
export type SectionId = (typeof SECTION_IDS)[number];
