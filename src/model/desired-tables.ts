// Desired state as tables, one per kind of object (services now; pods, namespaces, policies,
// nodes next). A source's update holds one table update per kind it has news for, and each
// kind is applied by its own reconciler step (src/datapath/reconcile-steps.ts). A kind is
// described once, by a TableKind next to its row type, and nothing here names any kind: adding
// one adds its own files and touches no existing kind. Pure: no I/O.
// A new kind (say, policies):
//   1. src/model/desired-policies.ts: its row type and `POLICIES: TableKind<DesiredPolicy>`;
//   2. the sources put `fullTable(POLICIES, rows)` / `deltaTable(POLICIES, changes)` in the
//      updates they return from take() (src/k8s/cluster-source.ts, src/source/file-source.ts);
//   3. src/datapath/policies-step.ts: a `TableStep<DesiredPolicy>` that writes its maps;
//   4. the agent registers it: `steps.register(policiesStep(...))` (src/cli/agent.ts).
// mergeUpdates, ReconcileSteps and the services step stay as they are.

/** A kind of desired object: its name, and the key that names a row in updates and statuses. */
export interface TableKind<Row> {
  readonly name: string;
  rowId(row: Row): string;
}

/** What changed in one table since the last update. */
export interface TableChanges<Row> {
  /** Rows added or changed. */
  upserts: Row[];
  /** Ids (rowId()) of rows no longer desired. */
  removals: string[];
}

export type TableUpdate<Row> =
  /** The whole table: what the maps hold for this kind is made equal to it. */
  | { table: TableKind<Row>; kind: 'full'; rows: Row[] }
  /** Only what changed in this table since the last update. */
  | { table: TableKind<Row>; kind: 'delta'; changes: TableChanges<Row> };

/** One update from a source: at most one table update per kind. Kinds without news are absent. */
export interface SourceUpdate {
  tables: TableUpdate<unknown>[];
}

export function fullTable<Row>(table: TableKind<Row>, rows: Row[]): TableUpdate<Row> {
  return { table, kind: 'full', rows };
}

export function deltaTable<Row>(table: TableKind<Row>, changes: TableChanges<Row>): TableUpdate<Row> {
  return { table, kind: 'delta', changes };
}

/** The update of `table`'s kind in `update`, typed as that kind's rows. */
export function tableOf<Row>(update: SourceUpdate, table: TableKind<Row>): TableUpdate<Row> | undefined {
  // A table's rows are of the kind its TableKind describes: the name says which.
  return update.tables.find((u) => u.table.name === table.name) as TableUpdate<Row> | undefined;
}

/** Whether every table in the update is whole (a full resync of everything it carries). */
export function isFullUpdate(update: SourceUpdate): boolean {
  return update.tables.length > 0 && update.tables.every((u) => u.kind === 'full');
}

/** One table update with the effect of `a` then `b` (the same kind). */
export function mergeTableUpdates<Row>(a: TableUpdate<Row>, b: TableUpdate<Row>): TableUpdate<Row> {
  // A whole table says everything; what came before it no longer matters.
  if (b.kind === 'full') return b;
  const id = (row: Row): string => b.table.rowId(row);
  const upserts = new Map((a.kind === 'full' ? a.rows : a.changes.upserts).map((row) => [id(row), row]));
  const removals = new Set(a.kind === 'full' ? [] : a.changes.removals);
  for (const rid of b.changes.removals) {
    upserts.delete(rid);
    removals.add(rid);
  }
  for (const row of b.changes.upserts) {
    const rid = id(row);
    upserts.set(rid, row);
    removals.delete(rid);
  }
  if (a.kind === 'full') return fullTable(b.table, [...upserts.values()]);
  return deltaTable(b.table, { upserts: [...upserts.values()], removals: [...removals] });
}

/** One update with the effect of `a` then `b`: what an agent applies when `a` could not be
 * applied (its sync threw) before `b` was taken. Each kind is merged on its own. */
export function mergeUpdates(a: SourceUpdate, b: SourceUpdate): SourceUpdate {
  const tables = a.tables.map((ta) => {
    const tb = b.tables.find((u) => u.table.name === ta.table.name);
    return tb ? mergeTableUpdates(ta, tb) : ta;
  });
  for (const tb of b.tables) if (!a.tables.some((u) => u.table.name === tb.table.name)) tables.push(tb);
  return { tables };
}
