// Several suite results as one: what a cluster comparison needs, where each datapath mode is a
// separate run (the DaemonSet switched between runs) and each run also measured direct. Rows
// of the same mode and point pool their samples; ratios to direct are recomputed on the
// pooled direct row. Pure.
import { SUITE_SCHEMA_VERSION, type SuiteResult, type SuiteRow, type SuiteSection } from '../report/suite-result.js';
import { sample, withRatios } from './samples.js';

function mergeSections(sections: readonly SuiteSection[]): SuiteSection {
  const first = sections[0]!;
  const rows = new Map<string, SuiteRow>();
  for (const s of sections)
    for (const row of s.rows) {
      const key = `${row.mode}|${row.x ?? ''}`;
      const known = rows.get(key);
      if (!known) {
        rows.set(key, { mode: row.mode, ...(row.x === undefined ? {} : { x: row.x }), values: { ...row.values } });
        continue;
      }
      for (const [metric, value] of Object.entries(row.values)) {
        const before = known.values[metric];
        known.values[metric] = sample([...(before?.samples ?? []), ...value.samples]);
      }
    }
  const measured = new Set([...rows.values()].map((r) => r.mode));
  const unavailable = sections.flatMap((s) => s.unavailable).filter((u, i, all) => !measured.has(u.mode) && all.findIndex((v) => v.mode === u.mode) === i);
  const notes = sections.flatMap((s) => s.notes ?? []);
  return { ...first, rows: withRatios([...rows.values()], first.primary), unavailable, ...(notes.length ? { notes } : {}) };
}

/** Sections one of the results did not run and none of them has. */
function notRunOf(results: readonly SuiteResult[], measured: readonly string[]): Pick<SuiteResult, 'notRun'> {
  const notRun = [...new Set(results.flatMap((r) => r.notRun ?? []))].filter((id) => !measured.includes(id));
  return notRun.length ? { notRun } : {};
}

export function mergeResults(results: readonly SuiteResult[]): SuiteResult {
  if (results.length === 0) throw new Error('nothing to merge: give at least one result.json');
  for (const r of results) if (r.schema !== SUITE_SCHEMA_VERSION) throw new Error(`a result has schema ${String(r.schema)}; this socklb reads schema ${SUITE_SCHEMA_VERSION}`);
  const ids = [...new Set(results.flatMap((r) => r.sections.map((s) => s.id)))];
  return {
    schema: SUITE_SCHEMA_VERSION,
    profile: [...new Set(results.map((r) => r.profile))].join('+'),
    date: results.map((r) => r.date).sort()[0]!,
    machine: results[0]!.machine,
    command: results.map((r) => r.command).join(' ; '),
    sections: ids.map((id) => mergeSections(results.flatMap((r) => r.sections.filter((s) => s.id === id)))),
    problems: results.flatMap((r) => r.problems ?? []),
    ...notRunOf(results, ids),
  };
}
