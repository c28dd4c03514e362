// Raw Pods, Namespaces and NetworkPolicies in, table updates of their decoded rows out: what a
// source (the API server's watches, a services file) puts in its updates for NetworkPolicy.
// Objects are decoded as they arrive and dropped; the rows are kept, shared with the agent's
// PolicyInputs, to tell a change from an update that changes no row. The first take() is whole
// tables (the agent's store starts empty, and a full table says so); later ones carry what
// changed since. Pure.
import { deltaTable, fullTable, type TableKind, type TableUpdate } from './desired-tables.js';
import { flatKey, isRecord } from './k8s-decode.js';
import type { Namespace, NetworkPolicy, Pod } from './k8s-objects.js';
import { decodeNamespace, decodePod } from './pod-decode.js';
import { decodeNetworkPolicy } from './policy-decode.js';
import { NAMESPACES, NETWORK_POLICIES, PODS, type PodRow } from './policy-objects.js';
import { describeValue, ProblemBook, type Problem } from './problems.js';

/** Whether two rows (plain data: objects, arrays, strings, numbers, undefined) are equal. */
export function sameRow(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameRow((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Changes to one table not yet taken, against the rows last delivered: a pod's status changes
 * often (conditions, container states) and its row seldom, so an equal row is no change. The
 * delivered rows are the very objects the agent's store holds; keeping them costs a map entry. */
class PendingRows<Row> {
  private readonly delivered = new Map<string, Row>();
  /** A row upserted, or null for one removed. */
  private readonly changes = new Map<string, Row | null>();

  constructor(
    readonly table: TableKind<Row>,
    /** "Pod", "Namespace", "NetworkPolicy": how problems name the object. */
    readonly kind: string,
  ) {}

  upsert(row: Row): void {
    const id = this.table.rowId(row);
    const was = this.delivered.get(id);
    if (was !== undefined && sameRow(was, row)) this.changes.delete(id);
    else this.changes.set(id, row);
  }

  remove(id: string): void {
    if (this.delivered.has(id)) this.changes.set(id, null);
    else this.changes.delete(id);
  }

  take(full: boolean): TableUpdate<Row> | undefined {
    const rows: Row[] = [];
    const removals: string[] = [];
    for (const [id, row] of this.changes) {
      if (row) {
        rows.push(row);
        this.delivered.set(id, row);
      } else {
        removals.push(id);
        this.delivered.delete(id);
      }
    }
    this.changes.clear();
    if (full) return fullTable(this.table, rows);
    return rows.length + removals.length > 0 ? deltaTable(this.table, { upserts: rows, removals }) : undefined;
  }
}

export class PolicyInputFeed {
  private readonly pods = new PendingRows(PODS, 'Pod');
  private readonly namespaces = new PendingRows(NAMESPACES, 'Namespace');
  private readonly policies = new PendingRows(NETWORK_POLICIES, 'NetworkPolicy');
  private readonly problemBook = new ProblemBook();
  /** Numbers objects without a usable name, whose problems are kept under a key of their own. */
  private unnamed = 0;
  private taken = false;

  /** The decoded pod (its addresses are wanted elsewhere too), or undefined when it has no name. */
  upsertPod(raw: Pod): PodRow | undefined {
    return this.upsert(this.pods, raw, decodePod);
  }

  deletePod(namespace: string, name: string): void {
    this.remove(this.pods, flatKey(namespace, name));
  }

  upsertNamespace(raw: Namespace): void {
    this.upsert(this.namespaces, raw, decodeNamespace);
  }

  deleteNamespace(name: string): void {
    this.remove(this.namespaces, name);
  }

  upsertPolicy(raw: NetworkPolicy): void {
    this.upsert(this.policies, raw, decodeNetworkPolicy);
  }

  deletePolicy(namespace: string, name: string): void {
    this.remove(this.policies, flatKey(namespace, name));
  }

  /** Whole tables the first time, then the tables that changed (possibly none). */
  take(): TableUpdate<unknown>[] {
    const full = !this.taken;
    this.taken = true;
    return [this.pods.take(full), this.namespaces.take(full), this.policies.take(full)].filter((u) => u !== undefined) as TableUpdate<unknown>[];
  }

  /** Every problem with the objects as they are now. */
  problems(): Problem[] {
    return this.problemBook.all();
  }

  private upsert<Raw, Row>(pending: PendingRows<Row>, raw: Raw, decode: (raw: Raw, problems: Problem[]) => Row | undefined): Row | undefined {
    const problems: Problem[] = [];
    const row = isRecord(raw) ? decode(raw, problems) : undefined;
    if (!isRecord(raw)) problems.push({ object: `${pending.kind} ?`, field: '(object)', message: `is ${describeValue(raw)}; expected a ${pending.kind} object` });
    // An object without a name cannot be updated or deleted later; its problems stay here.
    this.problemBook.set(`${pending.kind} ${row ? pending.table.rowId(row) : `?${this.unnamed++}`}`, problems);
    if (row) pending.upsert(row);
    return row;
  }

  private remove<Row>(pending: PendingRows<Row>, id: string): void {
    this.problemBook.delete(`${pending.kind} ${id}`);
    pending.remove(id);
  }
}
