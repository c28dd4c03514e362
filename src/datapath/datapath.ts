// The datapath an agent runs, composed from the components its configuration names: each
// configured component is installed (its object loaded against the shared pinned maps), the
// maps are adopted by the reconciler, then each component attaches; a component that is not
// configured is detached, so what a previous agent with another configuration left goes away.
// The datapath holds the lock on the pin directory (bpffs-lock.ts) until it is closed.
// The maps are adopted before any program is attached: what adoption repairs (a map an older
// socklb did not have, slb_vips, is filled from the frontends) is in place before the first
// lookup of a program that reads it. After an upgrade that changed a layout (map-layouts.ts) the
// old programs keep running on the old maps until the new ones are filled: the agent attaches
// then (finishUpgrade), after its first full sync.
import { lockBpffs } from '../bpf/bpffs-lock.js';
import { ensureBpffs } from '../bpf/kernel-env.js';
import type { KeyValueMap } from '../bpf/typed-map.js';
import type { CtEntry, CtKey } from './ct-map.js';
import { COMPONENT_NAMES, type ComponentKind, type ComponentName, type DatapathComponent, type FlowTable, type TargetChanges } from './datapath-component.js';
import type { DatapathMaps } from './datapath-maps.js';
import { mapDir } from './datapath-object.js';
import { removeStalePins, stalePins } from './map-layouts.js';
import { NodeTc, type NodeTcConfig } from './node-tc.js';
import { PodTc, type PodTcComponent, type PodTcConfig } from './pod-tc.js';
import type { PodNetnsMaps } from './pod-netns-map.js';
import type { PolicyMaps } from './policy-tables.js';
import { Reconciler } from './reconciler.js';
import { SYSTEM_TIMING, type RetryTiming } from './retry-queue.js';
import { SocketHooks, type SocketHooksComponent, type SocketHooksConfig } from './socket-hooks.js';
import type { UdpSockets } from './udp-sockets.js';

/** Which components to run, each with its configuration; absent: not configured. */
export interface ComponentConfigs {
  'socket-hooks'?: SocketHooksConfig;
  'pod-tc'?: PodTcConfig;
  'node-tc'?: NodeTcConfig;
}

const KINDS: { [N in ComponentName]: ComponentKind<NonNullable<ComponentConfigs[N]>> } = {
  'socket-hooks': SocketHooks,
  'pod-tc': PodTc,
  'node-tc': NodeTc,
};

export interface Datapath {
  maps: DatapathMaps;
  /** The control plane over the maps, adopted from what they held before any program was attached. */
  reconciler: Reconciler;
  readonly components: readonly DatapathComponent[];
  /** PodTc's flow table, when it runs (conntrack mode's flows, or the policy's reply entries). */
  ct: KeyValueMap<CtKey, CtEntry> | undefined;
  /** Every component's flow tables (PodTc's, NodeTc's), for garbage collection and metrics. */
  readonly flowTables: readonly FlowTable[];
  /** The NetworkPolicy tables, when PodTc enforces policy. */
  policy: PolicyMaps | undefined;
  /** PodTc's programs onto one interface (a local pod's, by its route), when PodTc runs. */
  attachPodInterface: ((ifname: string) => boolean) | undefined;
  /** SocketHooks' map of which pod a socket is, when it checks egress policy. */
  podNetns: PodNetnsMaps | undefined;
  /** SocketHooks' UDP reverse map and connected-socket destruction, when it runs. */
  udp: UdpSockets | undefined;
  /** What the install did, for the agent's log line. */
  summary: Record<string, unknown>;
  /** Pins of older layouts the programs in place still run on; empty when the programs were
   * attached at install. While not empty the new maps are being filled. */
  readonly upgradingFrom: readonly string[];
  /** Swaps the programs over to the new maps (one link update or filter replacement per hook)
   * and removes the old pins; returns what it did. Call once the new maps hold the desired state. */
  finishUpgrade(): Record<string, unknown>;
  /** Every component's sync: programs onto targets that appeared, off those that went. */
  sync(): TargetChanges;
  /** What of the datapath is gone from the kernel, one line each; empty while it is as installed. */
  missing(): string[];
  close(): void;
}

export function installDatapath(opts: { bpffs: string; components: ComponentConfigs; timing?: RetryTiming }): Datapath {
  const names = COMPONENT_NAMES.filter((n) => opts.components[n] !== undefined);
  if (names.length === 0) throw new Error('no datapath component is configured');
  ensureBpffs(opts.bpffs);
  // Before anything is detached or loaded: a second agent on these pins stops here.
  const lock = lockBpffs(opts.bpffs);
  const summary: Record<string, unknown> = {};
  const components: DatapathComponent[] = [];
  const close = (): void => {
    components.forEach((c) => c.close());
    lock.release();
  };
  try {
    for (const name of COMPONENT_NAMES) if (!names.includes(name)) Object.assign(summary, KINDS[name].detach(opts.bpffs));
    for (const name of names) components.push((KINDS[name] as ComponentKind<unknown>).install(opts.bpffs, opts.components[name]));
    // Every component's object opened the same pins; the first one's fds serve the reconciler.
    const maps = components.find((c) => c.maps)?.maps;
    if (!maps) throw new Error(`no configured component holds the load-balancing maps (${names.join(', ')}): configure the socket hooks or conntrack mode`);
    const reconciler = Reconciler.adopt(maps, opts.timing ?? SYSTEM_TIMING);
    const attach = (): Record<string, unknown> => Object.assign({}, ...components.map((c) => c.attach())) as Record<string, unknown>;
    let upgradingFrom = stalePins(mapDir(opts.bpffs));
    if (upgradingFrom.length === 0) Object.assign(summary, attach());
    else Object.assign(summary, { upgradingFrom, setAside: components.flatMap((c) => c.setAside) });
    const byName = <C extends DatapathComponent>(name: ComponentName): C | undefined => components.find((c) => c.name === name) as C | undefined;
    return {
      maps,
      reconciler,
      components,
      ct: byName<PodTcComponent>('pod-tc')?.ct,
      flowTables: components.flatMap((c) => c.flowTables ?? []),
      policy: byName<PodTcComponent>('pod-tc')?.policy,
      attachPodInterface: byName<PodTcComponent>('pod-tc')?.attachInterface,
      udp: byName<SocketHooksComponent>('socket-hooks')?.udp,
      podNetns: byName<SocketHooksComponent>('socket-hooks')?.podNetns,
      summary,
      get upgradingFrom() {
        return upgradingFrom;
      },
      finishUpgrade() {
        const attached = attach();
        upgradingFrom = [];
        return { ...attached, removedPins: removeStalePins(mapDir(opts.bpffs)) };
      },
      sync() {
        const changes = components.map((c) => c.sync());
        return { attached: changes.flatMap((c) => c.attached), detached: changes.flatMap((c) => c.detached) };
      },
      // Until the swap, the old programs serve: only the new maps' pins can be lost.
      missing: () => components.flatMap((c) => c.missing()),
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
