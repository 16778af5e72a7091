// Rules in the controller's JSON (PROTOCOL-VL2.md §8.4). Posted rules are parsed and re-rendered the way
// ZeroTier One's controller does (actions lose not/or, unparseable entries are dropped); the JSON ⇄ binary
// codec itself is the core's (service/core/vl2/rules.ts).
import { ruleFromJson, ruleToJson } from '../core/vl2/rules.js';
import type { Json } from './json.js';

/** Re-renders posted rules; entries that do not parse are dropped. */
export function normalizeRules(rules: readonly Json[]): Json[] {
  const out: Json[] = [];
  for (const r of rules) {
    const rule = ruleFromJson(r);
    if (rule) out.push(ruleToJson(rule));
  }
  return out;
}
