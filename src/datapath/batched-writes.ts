// Writes or deletes many map entries with as few syscalls as the kernel allows, while keeping
// failures per element: an element that fails is reported with its tag (the service it
// belongs to) and skipped, and the rest are still written, in order.
import { constants } from 'node:os';
import type { KeyValueMap } from '../bpf/typed-map.js';

const { ENOENT } = constants.errno;

export function writeAll<K, V, T>(map: KeyValueMap<K, V>, entries: readonly { key: K; value: V; tag: T }[], onError: (tag: T, err: Error) => void): number {
  let at = 0;
  let written = 0;
  while (at < entries.length) {
    // From where the last batch stopped; a copy only after a failure.
    const rest = at === 0 ? entries : entries.slice(at);
    const r = map.setMany(rest.map((e) => [e.key, e.value] as const));
    written += r.done;
    at += r.done;
    if (!r.error) break;
    onError(entries[at]!.tag, r.error);
    at++;
  }
  return written;
}

/** A key already gone counts as deleted. */
export function deleteAll<K, T>(map: KeyValueMap<K, unknown>, entries: readonly { key: K; tag: T }[], onError: (tag: T, err: Error) => void): number {
  let at = 0;
  let deleted = 0;
  while (at < entries.length) {
    const r = map.deleteMany((at === 0 ? entries : entries.slice(at)).map((e) => e.key));
    deleted += r.done;
    at += r.done;
    if (!r.error) break;
    if ((r.error as { errno?: number }).errno !== ENOENT) onError(entries[at]!.tag, r.error);
    at++;
  }
  return deleted;
}
