// A sync that throws does not lose its input: the agent (in this process, on the real kernel)
// keeps the update it took from the source and applies it, merged with what came since, on the
// next sync, which it schedules itself with backoff.
import t from 'tap';
import { pino } from 'pino';
import { startAgent } from '../../src/cli/agent.js';
import { SERVICES, type DesiredService } from '../../src/model/desired-services.js';
import { deltaTable, fullTable } from '../../src/model/desired-tables.js';
import type { DesiredSource, SourceUpdate } from '../../src/source/desired-source.js';
import { byBackend, eventually, KernelLab, programmed } from '../helpers/kernel-lab.js';

/** Hands out the updates pushed to it, one per take(), as the API source hands out deltas. */
class ScriptedSource implements DesiredSource {
  private readonly queue: SourceUpdate[] = [];
  private onChange: () => void = () => undefined;
  start(onChange: () => void): void {
    this.onChange = onChange;
  }
  stop(): void {}
  ready(): boolean {
    return true;
  }
  take(): SourceUpdate | undefined {
    return this.queue.shift();
  }
  problems(): [] {
    return [];
  }
  push(update: SourceUpdate): void {
    this.queue.push(update);
    this.onChange();
  }
}

t.test('a delta whose sync throws is applied with the next one', async (t) => {
  const lab = await KernelLab.create(t, ['be-1', 'be-2'], [8080]);
  const svc = (vip: string, pod: string): DesiredService => ({
    frontend: { address: vip, port: 80, protocol: 'TCP' },
    backends: [{ address: lab.pod(pod).ipv4, port: 8080 }],
    owner: `ns/${vip}`,
  });
  const logs: { msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const source = new ScriptedSource();
  const agent = startAgent({ bpffs: lab.bpffs, cgroup: lab.net.cgroup.path }, { log, source });
  t.teardown(() => agent.stop());

  source.push({ tables: [fullTable(SERVICES, [svc('10.96.0.10', 'be-1')])] });
  await eventually(agent.ready, 5000, () => 'first full sync');

  // An address no codec can write makes the sync throw half-way (after backends and slots).
  const poison: DesiredService = { frontend: { address: 'not-an-address', port: 80, protocol: 'TCP' }, backends: [], owner: 'ns/poison' };
  source.push({ tables: [deltaTable(SERVICES, { upserts: [svc('10.96.0.11', 'be-2'), poison], removals: [] })] });
  await eventually(
    () => logs.some((l) => /^sync failed/.test(l.msg)),
    5000,
    () => 'a failed sync',
  );
  t.notOk(programmed(lab.bpffs)['10.96.0.11:80/TCP'], 'not programmed while the sync throws');
  // What came next removes the poison and changes another service: the held delta goes with it.
  source.push({ tables: [deltaTable(SERVICES, { upserts: [svc('10.96.0.10', 'be-2')], removals: ['not-an-address|80|TCP'] })] });
  await eventually(
    () => programmed(lab.bpffs)['10.96.0.11:80/TCP'] !== undefined,
    5000,
    () => `held delta not applied: ${JSON.stringify(programmed(lab.bpffs))}; logs ${JSON.stringify(logs.slice(-3))}`,
  );
  t.same(programmed(lab.bpffs), { '10.96.0.10:80/TCP': [`${lab.pod('be-2').ipv4}:8080`], '10.96.0.11:80/TCP': [`${lab.pod('be-2').ipv4}:8080`] });
  t.match(
    logs.find((l) => /^sync failed/.test(l.msg)),
    { msg: /its input is kept/, retryInMs: Number },
  );
  t.same(byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.11', port: 80, count: 3 })), { 'be-2': 3 });
  await agent.stop();
});
