// Rules in the controller's JSON (PROTOCOL-VL2.md §8.4). Posted rules are parsed and re-rendered; the
// JSON ⇄ binary codec itself lives in the core (service/core/vl2/rules.ts).
import { isObject, type Json } from './json.js';

/** Re-renders posted rules; entries that do not parse are dropped. */
export function normalizeRules(rules: readonly Json[]): Json[] {
  return rules.filter((r) => isObject(r) && typeof r.type === 'string');
}
