// JSON helpers with the controller's semantics: records are plain JSON objects (unknown keys are kept, as
// ZeroTier One keeps them), written compact with keys in sorted order; loose readers accept numbers given
// as strings and booleans given as numbers or strings, as ZeroTier One's controller does.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy with every object's keys in sorted order (the order ZeroTier One writes them in). */
export function sortKeys<T extends Json>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => sortKeys(x)) as T;
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
  return out as T;
}

/** Compact JSON, keys sorted: the on-disk and API form. */
export function dumpCompact(v: Json): string {
  return JSON.stringify(sortKeys(v));
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

/** Boolean reading: booleans, numbers (non-zero), strings starting with 1/t/T/y/Y. */
export function jsonBool(v: unknown, dflt: boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0 && '1tTyY'.includes(v[0]!);
  return dflt;
}

/** Unsigned integer reading: numbers (truncated), decimal strings, booleans. */
export function jsonInt(v: unknown, dflt: number): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dflt;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const m = /^\s*(\d+)/.exec(v);
    return m ? Number(m[1]) : 0;
  }
  return dflt;
}

/** String reading: strings, numbers and booleans as text. */
export function jsonString(v: unknown, dflt: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return dflt;
}
