// The reconciler steps of the Pod, Namespace and NetworkPolicy tables: each keeps its rows in
// the agent's PolicyInputs, which the policy compiler reads. Nothing is written to a map here
// (enforcement compiles from the store), so these steps cannot fail.
import type { PolicyInputs } from '../model/policy-inputs.js';
import type { RowStore } from '../model/row-store.js';
import type { StepReport, TableStep } from './reconcile-steps.js';

function storeStep<Row>(store: RowStore<Row>, inputs: PolicyInputs): TableStep<Row, StepReport> {
  return {
    table: store.table,
    apply: (update) => {
      store.apply(update);
      inputs.generation++;
      return { errors: [] };
    },
  };
}

/** One step per table; registered in this order, namespaces and pods before the policies that select them. */
export function policyInputSteps(inputs: PolicyInputs): TableStep<never, StepReport>[] {
  return [storeStep(inputs.namespaces, inputs), storeStep(inputs.pods, inputs), storeStep(inputs.policies, inputs)] as unknown as TableStep<never, StepReport>[];
}
