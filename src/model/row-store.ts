// The current rows of one table kind, kept from the updates that carry it: a whole table
// replaces what was there, a delta changes only its rows. Pure.
import type { TableKind, TableUpdate } from './desired-tables.js';

export class RowStore<Row> {
  private readonly rows = new Map<string, Row>();

  constructor(readonly table: TableKind<Row>) {}

  apply(update: TableUpdate<Row>): void {
    const id = this.table.rowId;
    if (update.kind === 'full') {
      this.rows.clear();
      for (const row of update.rows) this.rows.set(id(row), row);
      return;
    }
    for (const rid of update.changes.removals) this.rows.delete(rid);
    for (const row of update.changes.upserts) this.rows.set(id(row), row);
  }

  get(id: string): Row | undefined {
    return this.rows.get(id);
  }

  values(): IterableIterator<Row> {
    return this.rows.values();
  }

  get size(): number {
    return this.rows.size;
  }
}
