// `socklb bench`: the comparison in one command. Builds the topology in namespaces, runs the
// chosen sections in every mode the machine offers, checks each run, and returns a SuiteResult
// (written as JSON, Markdown and SVG by the caller). Base sections share one topology; each
// sweep point and the control plane build their own.
import { cpus, release } from 'node:os';
import { SUITE_SCHEMA_VERSION, type SuiteResult, type SuiteSection } from '../report/suite-result.js';
import { BenchTopology } from './bench-topology.js';
import { controlPlaneSection } from './control-plane-section.js';
import { iptablesLegacySection } from './iptables-legacy-section.js';
import { policySection } from './policy-section.js';
import { bulkSection, stateSection, trafficSection, TRAFFIC_SECTIONS } from './connection-sections.js';
import { hooksSection } from './hooks-section.js';
import { northSouthSection } from './north-south-section.js';
import { nodePathsSection } from './node-paths-section.js';
import type { Progress } from './interleave.js';
import type { Problems } from './run-checks.js';
import { SHAPE_SECTIONS, shapeSection, type ShapeSectionId } from './shape-sections.js';
import { sweepSection, sweepSpecs } from './sweep-sections.js';
import type { SectionId, SuiteProfile } from './profiles.js';

const BASE_SECTIONS = ['pod-network', 'short-connections', 'long-connections', 'bulk', 'udp', 'state'] as const;

/** Called with the result so far after each section (`notRun` lists the rest). */
export type SectionDone = (soFar: SuiteResult) => void;

export async function runSuite(
  profile: SuiteProfile,
  sections: readonly SectionId[],
  command: string,
  progress: Progress,
  sectionDone: SectionDone = () => {},
): Promise<SuiteResult> {
  const date = new Date().toISOString();
  const problems: Problems = [];
  const done = new Map<SectionId, SuiteSection>();
  const resultSoFar = (): SuiteResult => {
    const notRun = sections.filter((id) => !done.has(id));
    return {
      schema: SUITE_SCHEMA_VERSION,
      profile: profile.name,
      date,
      machine: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', node: process.version },
      command,
      // In the order the caller listed them.
      sections: sections.filter((id) => done.has(id)).map((id) => done.get(id)!),
      problems: [...problems],
      ...(notRun.length ? { notRun } : {}),
    };
  };
  const record = (id: SectionId, section: SuiteSection): void => {
    done.set(id, section);
    sectionDone(resultSoFar());
  };
  const base = BASE_SECTIONS.filter((s) => sections.includes(s));
  if (base.length > 0) {
    const topo = await BenchTopology.create({ backends: profile.backends, services: 1 }, progress);
    try {
      for (const id of base) {
        record(
          id,
          id === 'state'
            ? await stateSection(topo, profile, problems, progress)
            : id === 'bulk'
              ? await bulkSection(topo, profile, progress)
              : await trafficSection(TRAFFIC_SECTIONS[id], topo, profile, problems, progress),
        );
      }
    } finally {
      const left = await topo.destroy();
      if (left.length) progress(`clean-up problems: ${left.join('; ')}`);
    }
  }
  for (const spec of sweepSpecs(profile)) if (sections.includes(spec.id)) record(spec.id, await sweepSection(spec, profile, problems, progress));
  if (sections.includes('hooks')) record('hooks', await hooksSection(profile, problems, progress));
  for (const id of Object.keys(SHAPE_SECTIONS) as ShapeSectionId[]) if (sections.includes(id)) record(id, await shapeSection(id, profile, problems, progress));
  if (sections.includes('policy')) record('policy', await policySection(profile, problems, progress));
  if (sections.includes('iptables-legacy')) record('iptables-legacy', await iptablesLegacySection(profile, problems, progress));
  if (sections.includes('north-south')) record('north-south', await northSouthSection(profile, problems, progress));
  if (sections.includes('node-paths')) record('node-paths', await nodePathsSection(profile, problems, progress));
  if (sections.includes('control-plane')) record('control-plane', await controlPlaneSection(profile, progress));
  for (const p of problems) progress(`CHECK FAILED: ${p}`);
  return resultSoFar();
}
