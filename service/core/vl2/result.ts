// Typed outcomes for the VL2 codecs (same shape as ../result.ts, with VL2's own stable reasons).
// Decoders of wire input return one of these and never throw.

/** Why a VL2 payload, config, credential or rule list was refused. Stable strings: they name drop counters. */
export type Vl2Reason =
  | 'too-short'
  | 'too-long'
  | 'malformed'
  | 'bad-type'
  | 'bad-version'
  | 'bad-signature'
  | 'bad-network-id'
  | 'bad-issued-to'
  | 'too-many'
  | 'trailing-bytes';

export type Vl2Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: Vl2Reason; readonly detail?: string };

export function vok<T>(value: T): Vl2Decoded<T> {
  return { ok: true, value };
}

export function vfail<T = never>(reason: Vl2Reason, detail?: string): Vl2Decoded<T> {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}
