// A datapath component: one family of socklb programs with its own attachment points (the
// socket hooks on a cgroup, tc programs on pods' interfaces, and later tc programs on the node's
// external devices), loaded against the maps every component shares, so the agent composes the
// datapath it is configured for from the components it needs (datapath.ts) and each is
// installed, kept in sync and removed on its own.
//
// The life of a component in an agent:
//   install  (ComponentKind.install) loads its object, adopting the pinned maps; nothing runs yet;
//   attach   puts its programs in place: new attachments, or one link update / filter
//            replacement each over what a previous agent left (never a second attachment);
//   sync     periodic: programs onto targets that appeared, off those that no longer match;
//   detach   (ComponentKind.detach) what a component that is not configured left behind is
//            removed when the agent starts, so a configuration change is a restart.
// Attach is separate from install so the maps can be adopted (and repaired) before any program
// of the new load runs.
import type { CtGcResult } from './ct-gc.js';
import type { DatapathMaps } from './datapath-maps.js';

export const COMPONENT_NAMES = ['socket-hooks', 'pod-tc', 'node-tc'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];
/** What each component's targets are, for the agent's log lines. */
export const COMPONENT_TARGETS: Readonly<Record<ComponentName, string>> = { 'socket-hooks': 'cgroup', 'pod-tc': 'pod interfaces', 'node-tc': 'node devices' };

export interface TargetChanges {
  attached: string[];
  detached: string[];
}

export const NO_TARGET_CHANGES: TargetChanges = { attached: [], detached: [] };

/** A flow table of a component's programs, for the agent's garbage collection and metrics. */
export interface FlowTable {
  /** The map's name: the `map` label of socklb_conntrack_entries. */
  readonly map: string;
  readonly capacity: number;
  /** Deletes the expired entries; returns what is live. */
  collect(): CtGcResult;
}

export interface DatapathComponent {
  readonly name: ComponentName;
  /** The shared load-balancing maps, as this component's object opened them; absent for a
   * component whose object has none (PodTc enforcing NetworkPolicy only). */
  readonly maps?: DatapathMaps;
  /** Puts the programs in place; returns what it did, for the agent's 'datapath installed' line. */
  attach(): Record<string, unknown>;
  /** Brings the attachments up to date with the targets there are now. */
  sync(): TargetChanges;
  /** Its programs' flow tables, if they keep any. */
  readonly flowTables?: readonly FlowTable[];
  /** Pins of another layout its load set aside (map-layouts.ts). */
  readonly setAside: readonly string[];
  /** What of this component is gone from the kernel (`socklb uninstall`), one line each; empty while in place. */
  missing(): string[];
  close(): void;
}

export interface ComponentKind<Config, Component extends DatapathComponent = DatapathComponent> {
  readonly name: ComponentName;
  install(bpffs: string, config: Config): Component;
  /** Removes what this component left in the kernel and under bpffs (an agent configured
   * without it); returns what it removed, for the log. */
  detach(bpffs: string): Record<string, unknown>;
}
