// The kernel's NetworkPolicy verdict against the model's: random clusters are compiled
// (src/model/policy/policy-compiler.ts), the tables written into the real maps by
// syncPolicyTables (one compile after another on the same maps, so writes, in-place updates and
// deletes all happen), and for random flows the verdict policy_verdict.h gives in the kernel
// (through BPF_PROG_TEST_RUN of a test program that runs it on a query) must be the model's
// lookupDirection and the reference evaluator's, side by side.
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { loadPinnedObject } from '../../src/bpf/bpf-object.js';
import { native } from '../../src/bpf/libbpf.js';
import { testRunPacket } from '../../src/bpf/prog-test-run.js';
import { openPolicyMaps, syncPolicyTables } from '../../src/datapath/policy-tables.js';
import { LabRun } from '../../src/lab/lab-run.js';
import { PolicyCompiler } from '../../src/model/policy/policy-compiler.js';
import { ClusterIndex } from '../../src/model/policy/policy-cluster.js';
import { lookupDirection, type LookupWhy } from '../../src/model/policy/policy-lookup.js';
import { DIRECTION_CODE, PROTOCOL_NUMBER } from '../../src/model/policy/policy-keys.js';
import { checkTraffic } from '../../src/model/policy/reference-evaluator.js';
import type { PolicyDirection } from '../../src/model/policy-objects.js';
import { ipToBytes } from '../../src/net/ip-address.js';
import { cluster, trafficFor } from '../model/policy/policy-arbitraries.js';
import { POLICY_VERDICT_TEST_OBJECT } from '../helpers/test-objects.js';

/** enum pol_why (bpf/include/policy_verdict.h) by the model's names. */
const KERNEL_WHY: readonly LookupWhy[] = ['not-an-endpoint', 'not-isolated', 'own-node', 'identity', 'cidr', 'denied'];

function query(direction: PolicyDirection, local: string, peer: string, protocol: 'TCP' | 'UDP', port: number): Buffer {
  const q = Buffer.alloc(36);
  q.set(ipToBytes(local), 0);
  q.set(ipToBytes(peer), 16);
  q.writeUInt8(DIRECTION_CODE[direction], 32);
  q.writeUInt8(PROTOCOL_NUMBER[protocol], 33);
  q.writeUInt16BE(port, 34);
  return q;
}

t.test('the kernel’s verdict is the model’s, over random clusters and flows', async (t) => {
  const run = LabRun.begin();
  const bpffs = run.bpffs('test');
  const obj = loadPinnedObject(POLICY_VERDICT_TEST_OBJECT, bpffs);
  t.teardown(() => {
    obj.close();
    rmSync(bpffs, { recursive: true, force: true });
    run.end();
  });
  const prog = native.programFd(obj.programs[0]!.handle) as number;
  const maps = openPolicyMaps((name) => obj.maps.get(name)!);
  const compiler = new PolicyCompiler();
  const seen = new Map<string, number>();
  let sides = 0;
  let deleted = 0;
  const scenario = cluster.chain((c) => fc.tuple(fc.constant(c), fc.array(trafficFor(c), { minLength: 30, maxLength: 60 })));
  fc.assert(
    fc.property(scenario, ([c, flows]) => {
      const tables = compiler.compile(c);
      deleted += syncPolicyTables(maps, tables).deleted;
      const index = new ClusterIndex(c);
      for (const flow of flows) {
        if (flow.from === flow.to) continue; // a pod's packets to itself never reach tc
        const reference = checkTraffic(index, flow);
        for (const [direction, local, peer, want] of [
          ['Egress', flow.from, flow.to, reference.egress],
          ['Ingress', flow.to, flow.from, reference.ingress],
        ] as const) {
          const model = lookupDirection(tables, direction, local, peer, flow.protocol, flow.port);
          if (model.why === 'loopback') continue; // another address of the same pod: the same
          const { retval } = testRunPacket(prog, query(direction, local, peer, flow.protocol, flow.port), 'slb_policy_verdict_test');
          const kernel = KERNEL_WHY[retval];
          if (kernel !== model.why) throw new Error(`${direction} of ${JSON.stringify(flow)}: kernel ${kernel ?? retval}, model ${model.why}`);
          if ((kernel !== 'denied') !== want.allowed) throw new Error(`${direction} of ${JSON.stringify(flow)}: kernel ${kernel}, reference ${JSON.stringify(want)}`);
          seen.set(kernel, (seen.get(kernel) ?? 0) + 1);
          sides++;
        }
      }
    }),
    { numRuns: 150 },
  );
  t.comment(`${sides} sides checked in the kernel; by what decided: ${JSON.stringify(Object.fromEntries(seen))}; ${deleted} stale entries deleted between compiles`);
  for (const why of KERNEL_WHY) t.ok((seen.get(why) ?? 0) > sides / 500, `${why}: ${seen.get(why) ?? 0} sides`);
  t.ok(deleted > 0, 'later compiles deleted what earlier ones wrote');
});
