// The cluster `socklb policy list` and `policy check` judge, read once from the agent's own
// sources: the same services file (--services) or the same API server (--kubeconfig, else
// in-cluster). The CLI does not ask the agent: the agent keeps its inputs in memory only, and
// a tool that reads what the agent reads, with the same decoders, answers the same as the
// agent would, also where no agent runs yet (checking a policy before rolling it out). The
// source is started, its first complete update taken (a file: once it is whole; the API: once
// every list arrived), and stopped; nothing is watched.
import { isFullUpdate, tableOf, type SourceUpdate } from '../model/desired-tables.js';
import { PolicyInputs } from '../model/policy-inputs.js';
import type { RowStore } from '../model/row-store.js';
import type { Problem } from '../model/problems.js';
import type { DesiredSource } from '../source/desired-source.js';
import { FileSource } from '../source/file-source.js';
import type { Logger } from './logger.js';

export interface PolicySnapshot {
  inputs: PolicyInputs;
  /** Problems with the objects read (a policy field that could not be decoded, ...). */
  problems: Problem[];
}

/** The rows of a source's first complete update; `notReady` says, on time-out, what is missing. */
export function readPolicySnapshot(source: DesiredSource, timeoutMs: number, notReady: () => string): Promise<PolicySnapshot> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      source.stop();
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no complete picture of the cluster within ${timeoutMs / 1000} s: ${notReady()}`))), timeoutMs);
    const onChange = (): void => {
      if (done || !source.ready()) return;
      let update: SourceUpdate | undefined;
      try {
        update = source.take();
      } catch (err) {
        finish(() => reject(err as Error));
        return;
      }
      // A source's first update is whole tables; a later partial one cannot come first.
      if (!update || !isFullUpdate(update)) return;
      const inputs = new PolicyInputs();
      const fill = <Row>(store: RowStore<Row>): void => {
        const rows = tableOf(update, store.table);
        if (rows) store.apply(rows);
      };
      fill(inputs.pods);
      fill(inputs.namespaces);
      fill(inputs.policies);
      finish(() => resolve({ inputs, problems: source.problems() }));
    };
    try {
      source.start(onChange);
    } catch (err) {
      finish(() => reject(err as Error));
    }
  });
}

export interface SnapshotFlags {
  services?: string;
  kubeconfig?: string;
  nodeName?: string;
  /** Seconds to wait for the complete picture. */
  timeout: number;
}

/** From the services file when one is given, else from the API server, as the agent chooses. */
export async function loadPolicySnapshot(flags: SnapshotFlags, log: Logger): Promise<PolicySnapshot> {
  const timeoutMs = flags.timeout * 1000;
  if (flags.services) {
    const file = flags.services;
    const source = new FileSource(file, log, { nodeName: flags.nodeName });
    return readPolicySnapshot(source, timeoutMs, () => `${file} could not be used (see the error above); fix it, or raise --timeout if it is being written`);
  }
  // Loaded only for the API source, as in the agent: client-node's Watch comes with it.
  const [{ ClusterSource }, { loadApiConnection }] = await Promise.all([import('../k8s/cluster-source.js'), import('../k8s/kube-config.js')]);
  const source = new ClusterSource(await loadApiConnection(flags.kubeconfig), flags.nodeName, log);
  return readPolicySnapshot(source, timeoutMs, () => {
    const missing = source.watchStatus().filter((w) => !w.listed);
    return `not yet listed: ${missing.map((w) => `${w.resource}${w.lastError ? ` (${w.lastError})` : ''}`).join(', ')}`;
  });
}
