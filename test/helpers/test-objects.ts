// BPF objects built for the tests only (bpf/test/*.bpf.c, bpf/Makefile's TEST_OBJS).
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/install-paths.js';

export const testBpfObject = (name: string): string => join(PACKAGE_ROOT, 'dist', 'bpf', 'test', `${name}.bpf.o`);

/** bpf/test/policy_verdict_test.bpf.c: policy_verdict.h run on a query by BPF_PROG_TEST_RUN. */
export const POLICY_VERDICT_TEST_OBJECT = testBpfObject('policy_verdict_test');
