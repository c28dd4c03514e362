// metav1.LabelSelector matching, as apimachinery's LabelSelectorAsSelector defines it: every
// matchLabels pair AND every matchExpressions requirement; an empty selector selects everything.
// Used by the reference evaluator and the compiler alike: selecting is not policy semantics, and
// it has its own exhaustive tests. Pure.
import type { LabelRequirement, LabelSelector, Labels } from '../policy-objects.js';

/** The selector `{}`: every object. */
export const EVERYTHING: LabelSelector = { matchLabels: {}, matchExpressions: [] };

export function requirementMatches(req: LabelRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, req.key);
  switch (req.operator) {
    case 'In':
      return has && req.values.includes(labels[req.key]!);
    // NotIn selects objects without the key too (labels.Selector's "!=" semantics).
    case 'NotIn':
      return !has || !req.values.includes(labels[req.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return selector.matchExpressions.every((req) => requirementMatches(req, labels));
}
