// Each kind of desired object has its own reconciler step: a kind registered here (widgets,
// which socklb does not have) is applied beside the real services step, which sees only its
// own table and writes the maps as it does alone.
import t from 'tap';
import { SERVICES, type DesiredService } from '../../src/model/desired-services.js';
import { deltaTable, fullTable, type TableKind, type TableUpdate } from '../../src/model/desired-tables.js';
import { ReconcileSteps, type StepReport, type TableStep } from '../../src/datapath/reconcile-steps.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { servicesStep } from '../../src/datapath/services-step.js';
import { desiredView, lookupView, memoryMaps } from '../helpers/memory-maps.js';

interface Widget {
  name: string;
}
const WIDGETS: TableKind<Widget> = { name: 'widgets', rowId: (w) => w.name };

/** A step that records what it was given and fails the widgets named "bad". */
function widgetStep(seen: string[]): TableStep<Widget, StepReport & { widgets: number }> {
  return {
    table: WIDGETS,
    apply(update: TableUpdate<Widget>) {
      const rows = update.kind === 'full' ? update.rows : update.changes.upserts;
      seen.push(`widgets ${update.kind}: ${rows.map((w) => w.name).join(',')}`);
      return {
        widgets: rows.length,
        errors: rows.filter((w) => w.name === 'bad').map((w) => ({ owner: `widget ${w.name}`, message: 'bad widget', reason: 'unsupported' as const })),
      };
    },
  };
}

const svc = (address: string, backend: string): DesiredService => ({
  frontend: { address, port: 80, protocol: 'TCP' },
  backends: [{ address: backend, port: 8080 }],
  owner: `ns/${address}`,
});

t.test('a second kind is applied by its own step, beside the services step', async (t) => {
  const maps = memoryMaps();
  const reconciler = Reconciler.adopt(maps);
  const steps = new ReconcileSteps();
  const seen: string[] = [];
  const services = steps.register(servicesStep(reconciler));
  const widgets = steps.register(widgetStep(seen));

  const want = [svc('10.96.0.1', '10.0.0.1'), svc('10.96.0.2', '10.0.0.2')];
  const applied = steps.apply({ tables: [fullTable(WIDGETS, [{ name: 'a' }, { name: 'bad' }]), fullTable(SERVICES, want)] });
  t.same(Object.fromEntries(lookupView(maps)), Object.fromEntries(desiredView(want)), 'the services step wrote its table');
  t.match(applied.reportOf(services), { frontendsAdded: 2, errors: [] });
  t.match(applied.reportOf(widgets), { widgets: 2 });
  t.same(seen, ['widgets full: a,bad'], 'the widget step saw only its table');
  t.match(applied.errors(), [{ owner: 'widget bad', reason: 'unsupported' }], "every step's errors, for the metrics");

  // An update with news for one kind runs that kind's step alone.
  const onlyServices = steps.apply({ tables: [deltaTable(SERVICES, { upserts: [svc('10.96.0.3', '10.0.0.1')], removals: ['10.96.0.1|80|TCP'] })] });
  t.equal(onlyServices.reportOf(widgets), undefined);
  t.match(onlyServices.reportOf(services), { frontendsAdded: 1, frontendsRemoved: 1 });
  const onlyWidgets = steps.apply({ tables: [deltaTable(WIDGETS, { upserts: [{ name: 'c' }], removals: [] })] });
  t.equal(onlyWidgets.reportOf(services), undefined);
  t.same(seen, ['widgets full: a,bad', 'widgets delta: c']);
  t.same([...lookupView(maps).keys()].sort(), ['10.96.0.2|80|TCP', '10.96.0.3|80|TCP'], 'the services were left alone by the widget update');
});

t.test('steps run in the order they were registered, whatever the order of the tables', async (t) => {
  const order: string[] = [];
  const kind = (name: string): TableStep<string> => ({
    table: { name, rowId: (r: string) => r },
    apply: () => (order.push(name), { errors: [] }),
  });
  const steps = new ReconcileSteps();
  const first = steps.register(kind('first'));
  const second = steps.register(kind('second'));
  steps.apply({ tables: [fullTable(second.table, []), fullTable(first.table, [])] });
  t.same(order, ['first', 'second']);
});

t.test('a table no step handles is refused before anything is applied; a kind is registered once', async (t) => {
  const seen: string[] = [];
  const steps = new ReconcileSteps();
  steps.register(widgetStep(seen));
  const GADGETS: TableKind<string> = { name: 'gadgets', rowId: (g) => g };
  t.throws(
    () => steps.apply({ tables: [fullTable(WIDGETS, [{ name: 'a' }]), fullTable(GADGETS, ['g'])] }),
    /delivered a gadgets table, and no reconciler step is registered for it \(steps: widgets\)/,
  );
  t.same(seen, [], 'the widgets table was not applied either: the agent keeps the whole update');
  t.throws(() => steps.register(widgetStep(seen)), /step for the widgets table is registered twice/);
});
