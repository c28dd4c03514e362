// Raw Pods, Namespaces and NetworkPolicies in, table updates of their decoded rows out: what a
// source (the API server's watches, a services file) puts in its updates for NetworkPolicy.
// Objects are decoded as they arrive and dropped; only the changes not yet taken are kept, so
// the source holds no copy of the cluster (the agent's PolicyInputs does). The first take() is
// whole tables (the agent's store starts empty, and a full table says so); later ones carry what
// changed since. Pure.
import { deltaTable, fullTable, type TableKind, type TableUpdate } from './desired-tables.js';
import { flatKey, isRecord } from './k8s-decode.js';
import type { Namespace, NetworkPolicy, Pod } from './k8s-objects.js';
import { decodeNamespace, decodePod } from './pod-decode.js';
import { decodeNetworkPolicy } from './policy-decode.js';
import { NAMESPACES, NETWORK_POLICIES, PODS, type PodRow } from './policy-objects.js';
import { describeValue, ProblemBook, type Problem } from './problems.js';

/** Changes to one table not yet taken: a row upserted, or null for one removed. */
class PendingRows<Row> {
  private readonly changes = new Map<string, Row | null>();

  constructor(
    readonly table: TableKind<Row>,
    /** "Pod", "Namespace", "NetworkPolicy": how problems name the object. */
    readonly kind: string,
  ) {}

  upsert(row: Row): void {
    this.changes.set(this.table.rowId(row), row);
  }

  remove(id: string): void {
    this.changes.set(id, null);
  }

  take(full: boolean): TableUpdate<Row> | undefined {
    const rows: Row[] = [];
    const removals: string[] = [];
    for (const [id, row] of this.changes) {
      if (row) rows.push(row);
      else removals.push(id);
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
