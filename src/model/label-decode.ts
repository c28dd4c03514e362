// Labels and label selectors, checked as the API server validates them (metav1
// ValidateLabelSelector, validation.IsQualifiedName and IsValidLabelValue). A selector that does
// not pass is reported and returned as undefined: the caller decides what a selector it cannot
// read means, because ignoring one requirement would widen the selector. Pure.
import { isRecord } from './k8s-decode.js';
import type { Labels, LabelRequirement, LabelSelector, SelectorOperator } from './policy-objects.js';
import { describeValue, type ProblemSink } from './problems.js';

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** Why a label key is not valid ("prefix/name" or "name"), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return 'its prefix must be a DNS subdomain (lowercase letters, digits, "-" and ".")';
  if (name.length > 63 || !NAME.test(name)) return 'its name must be 1 to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

/** Why a label value is not valid, or undefined (empty is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  return value.length > 63 || !NAME.test(value) ? 'a label value is at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit' : undefined;
}

/** key: value pairs with both checked; false when any is bad (reported). */
function readPairs(v: unknown, field: string, sink: ProblemSink, out: Record<string, string>): boolean {
  if (v === undefined || v === null) return true;
  if (!isRecord(v)) {
    sink.add(field, `is ${describeValue(v)}; expected a map of label keys to string values`);
    return false;
  }
  let ok = true;
  for (const [key, value] of Object.entries(v)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem !== undefined) {
      sink.add(`${field}.${key}`, `is not a valid label key: ${keyProblem}`);
      ok = false;
    } else if (typeof value !== 'string') {
      sink.add(`${field}.${key}`, `is ${describeValue(value)}; a label value is a string (quote numbers and booleans)`);
      ok = false;
    } else {
      const valueProblem = labelValueProblem(value);
      if (valueProblem !== undefined) {
        sink.add(`${field}.${key}`, `is ${describeValue(value)}; ${valueProblem}`);
        ok = false;
      } else out[key] = value;
    }
  }
  return ok;
}

/** metadata.labels: bad entries are reported and left out (an API server would not have stored them). */
export function decodeLabels(v: unknown, field: string, sink: ProblemSink): Record<string, string> {
  const out: Record<string, string> = {};
  readPairs(v, field, sink, out);
  return out;
}

function decodeRequirement(e: unknown, field: string, sink: ProblemSink): LabelRequirement | undefined {
  if (!isRecord(e)) return void sink.add(field, `is ${describeValue(e)}; expected {key, operator, values}`);
  const { key, operator, values } = e;
  if (typeof key !== 'string' || labelKeyProblem(key) !== undefined) {
    return void sink.add(`${field}.key`, `is ${describeValue(key)}; ${typeof key === 'string' ? `not a valid label key: ${labelKeyProblem(key)}` : 'expected a label key'}`);
  }
  if (!OPERATORS.includes(operator as SelectorOperator)) return void sink.add(`${field}.operator`, `is ${describeValue(operator)}; use In, NotIn, Exists or DoesNotExist`);
  const op = operator as SelectorOperator;
  const list = values === undefined || values === null ? [] : values;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) return void sink.add(`${field}.values`, `is ${describeValue(values)}; expected a list of strings`);
  const strings = list as string[];
  const needsValues = op === 'In' || op === 'NotIn';
  if (needsValues && strings.length === 0) return void sink.add(`${field}.values`, `is empty; ${op} needs at least one value`);
  if (!needsValues && strings.length > 0) return void sink.add(`${field}.values`, `is ${describeValue(values)}; ${op} takes no values (leave values out)`);
  const bad = strings.findIndex((x) => labelValueProblem(x) !== undefined);
  if (bad >= 0) return void sink.add(`${field}.values[${bad}]`, `is ${describeValue(strings[bad])}; ${labelValueProblem(strings[bad]!)}`);
  return { key, operator: op, values: strings };
}

/** A selector, or undefined when any part of it is bad (each part reported). Absent or null: {}. */
export function decodeLabelSelector(v: unknown, field: string, sink: ProblemSink): LabelSelector | undefined {
  if (v === undefined || v === null) return { matchLabels: {}, matchExpressions: [] };
  if (!isRecord(v)) return void sink.add(field, `is ${describeValue(v)}; expected a label selector {matchLabels, matchExpressions}`);
  const matchLabels: Record<string, string> = {};
  let ok = readPairs(v.matchLabels, `${field}.matchLabels`, sink, matchLabels);
  const matchExpressions: LabelRequirement[] = [];
  const expressions = v.matchExpressions ?? [];
  if (!Array.isArray(expressions)) {
    sink.add(`${field}.matchExpressions`, `is ${describeValue(expressions)}; expected a list of {key, operator, values}`);
    ok = false;
  } else {
    expressions.forEach((e: unknown, i) => {
      const r = decodeRequirement(e, `${field}.matchExpressions[${i}]`, sink);
      if (r) matchExpressions.push(r);
      else ok = false;
    });
  }
  return ok ? { matchLabels: matchLabels as Labels, matchExpressions } : undefined;
}
