// sessionAffinity: ClientIP on the real kernel: a client (a pod, by its network namespace)
// keeps its backend while it keeps connecting, moves when the backend leaves the service, and
// is balanced afresh after the idle timeout.
import t from 'tap';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2', 'be-3'];

t.test('session affinity', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const sticky = (timeoutSeconds: number): Record<string, unknown> => {
    const s = service('ns', 'sticky', ['10.96.0.30'], [{ port: 80, targetPort: 8080 }]);
    Object.assign(s.spec as Record<string, unknown>, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds } } });
    return s;
  };
  const slice = (backends: string[]): Record<string, unknown> =>
    endpointSlice(
      'ns',
      'sticky-1',
      'sticky',
      'IPv4',
      [{ port: 8080 }],
      backends.map((b) => lab.pod(b).ipv4),
    );
  lab.writeServices([sticky(60), slice(BACKENDS)]);
  const agent = lab.startAgent();
  await agent.nextSync();

  const r = await lab.probe({ mode: 'tcp', host: '10.96.0.30', port: 80, count: 60 });
  const spread = byBackend(r);
  t.equal(Object.keys(spread).length, 1, `one client, one backend: ${JSON.stringify(spread)}`);
  const [first] = Object.keys(spread);

  const next = agent.nextSync();
  lab.writeServices([sticky(60), slice(BACKENDS.filter((b) => b !== first))]);
  await next;
  const moved = byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.30', port: 80, count: 30 }));
  t.equal(Object.keys(moved).length, 1, `still one backend after its removal: ${JSON.stringify(moved)}`);
  t.not(Object.keys(moved)[0], first, 'a backend that left the service is not reused');

  const short = agent.nextSync();
  lab.writeServices([sticky(1), slice(BACKENDS)]);
  await short;
  const seen = new Set<string>();
  // With a 1 s idle timeout every connection after a 1.1 s pause is balanced afresh: eight
  // of them all landing on one of three backends has probability (1/3)^7, about 0.05%.
  for (let i = 0; i < 8 && seen.size < 2; i++) {
    await new Promise((res) => setTimeout(res, 1100));
    for (const b of Object.keys(byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.30', port: 80, count: 1 })))) seen.add(b);
  }
  t.ok(seen.size >= 2, `after idle timeouts the client was balanced again: ${[...seen].join(', ')}`);
});
