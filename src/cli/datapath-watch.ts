// Notices when the datapath the agent installed is gone from under it (`socklb uninstall`, pins
// deleted by hand, another agent's install): every second it checks that its links are pinned
// and attached to its cgroup and its maps pinned as the maps it writes. When they are not, it
// says so once, with what is gone and what to do; the agent then stops being ready and stops
// writing maps no program reads. It does not install again: an uninstall is an operator's
// decision, and putting the programs back behind it would fight them. A restart installs anew.
import type { Datapath } from '../datapath/datapath.js';
import type { Clock } from './agent-clock.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface DatapathWatch {
  /** True while everything installed is still in place, as of the last check. */
  installed(): boolean;
  /** Checks now, for work that must not act on a datapath removed a moment ago. */
  checkNow(): boolean;
  /** What is gone, one line each; empty while installed. */
  missing(): readonly string[];
  stop(): void;
}

export function watchDatapath(datapath: Pick<Datapath, 'missing'>, bpffs: string, intervalMs: number, clock: Clock, metrics: Metrics, log: Logger): DatapathWatch {
  let missing: readonly string[] = [];
  const check = (): void => {
    let now: string[];
    try {
      now = datapath.missing();
    } catch (err) {
      // Cannot tell (a pin that vanished between two calls, say): the next check decides.
      log.debug({ err: (err as Error).message }, 'datapath check failed');
      return;
    }
    if (now.length > 0 && missing.length === 0) {
      log.error(
        { bpffs, missing: now },
        'the datapath is gone (socklb uninstall, or its pins were removed): services are not balanced and this agent is not ready; ' +
          'restart the agent to install it again, or stop it if the removal was meant',
      );
    } else if (now.length === 0 && missing.length > 0) {
      log.info({ bpffs }, 'the datapath is in place again');
    }
    missing = now;
  };
  const timer = clock.setInterval(check, intervalMs);
  metrics.register({
    name: 'socklb_datapath_installed',
    help: "1 while the agent's programs are attached and its maps pinned; 0 once they are gone (socklb uninstall).",
    type: 'gauge',
    read: () => [{ value: missing.length === 0 ? 1 : 0 }],
  });
  return {
    installed: () => missing.length === 0,
    checkNow: () => {
      check();
      return missing.length === 0;
    },
    missing: () => missing,
    stop: () => timer.cancel(),
  };
}
