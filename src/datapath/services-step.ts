// The reconciler step of the services table: a whole table is a full resync, a delta only
// what changed (reconciler.ts).
import { SERVICES, type DesiredService } from '../model/desired-services.js';
import type { TableStep } from './reconcile-steps.js';
import type { ReconcileReport, Reconciler } from './reconciler.js';

export function servicesStep(reconciler: Reconciler): TableStep<DesiredService, ReconcileReport> {
  return {
    table: SERVICES,
    apply: (update) => (update.kind === 'full' ? reconciler.apply(update.rows) : reconciler.applyChanges(update.changes)),
  };
}
