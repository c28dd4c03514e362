// Applies a source's update table by table: each kind of desired object (services now;
// policies, pods, namespaces, nodes next) has its own step, registered here under the kind's
// name, and a step sees only its own table. Adding a kind registers one more step and touches
// no existing one. Steps run in the order they were registered, whatever the update's order,
// so an order between kinds (say, endpoints before the policies that name them) is set once.
import type { SourceUpdate, TableKind, TableUpdate } from '../model/desired-tables.js';
import type { FailureReason } from './retry-queue.js';

/** What every step reports of an object it could not write. */
export interface StepError {
  owner: string;
  message: string;
  reason: FailureReason;
}

export interface StepReport {
  errors: StepError[];
}

export interface TableStep<Row, R extends StepReport = StepReport> {
  readonly table: TableKind<Row>;
  apply(update: TableUpdate<Row>): R;
}

/** The reports of one update's steps, by step. */
export class AppliedUpdate {
  constructor(private readonly reports: ReadonlyMap<TableStep<never, StepReport>, StepReport>) {}

  /** The report of `step`, or undefined when the update had no table of its kind. */
  reportOf<R extends StepReport>(step: TableStep<never, R>): R | undefined {
    return this.reports.get(step) as R | undefined;
  }

  /** Every step's errors. */
  errors(): StepError[] {
    return [...this.reports.values()].flatMap((r) => r.errors);
  }
}

export class ReconcileSteps {
  private readonly steps = new Map<string, TableStep<never, StepReport>>();

  /** Registers the step for its table's kind; returns it, to look its report up by. */
  register<Row, R extends StepReport>(step: TableStep<Row, R>): TableStep<Row, R> {
    const name = step.table.name;
    if (this.steps.has(name)) throw new Error(`a reconciler step for the ${name} table is registered twice; each kind has one step`);
    this.steps.set(name, step as unknown as TableStep<never, StepReport>);
    return step;
  }

  /** Applies each table of `update` with its kind's step. A table no step handles is a bug of
   * the source's wiring: nothing is applied, so the whole update is kept and the error says which. */
  apply(update: SourceUpdate): AppliedUpdate {
    const byName = new Map(update.tables.map((t) => [t.table.name, t]));
    for (const name of byName.keys()) {
      if (!this.steps.has(name))
        throw new Error(
          `the source delivered a ${name} table, and no reconciler step is registered for it (steps: ${[...this.steps.keys()].join(', ')}); register one in the agent`,
        );
    }
    const reports = new Map<TableStep<never, StepReport>, StepReport>();
    for (const [name, step] of this.steps) {
      const table = byName.get(name);
      if (table) reports.set(step, (step as unknown as TableStep<unknown>).apply(table));
    }
    return new AppliedUpdate(reports);
  }
}
