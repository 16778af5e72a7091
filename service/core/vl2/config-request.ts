// NETWORK_CONFIG_REQUEST (PROTOCOL-VL2.md §3): the payload a member sends and its metadata dictionary.
//
// ---- NETWORK_CONFIG_REQUEST payload (verb 0x0b) -------------------------------------------------------------
//
//   +-----------+-----------+---------------------------+-------------+---------------+
//   | nwid [8]  | L [2]     | metadata dictionary [L]   | revision[8] | timestamp [8] |
//   +-----------+-----------+---------------------------+-------------+---------------+
//   (revision/timestamp of the config held, 0 if none; the controller ignores everything after the dictionary)
import { WireReader, WireWriter } from '../wire.js';
import { Dictionary, METADATA_DICT_CAPACITY } from './dictionary.js';
import { CONFIG_VERSION, MAX_CAPABILITIES, MAX_TAGS } from './network-id.js';
import { type Vl2Decoded, vfail, vok } from './result.js';
import { MAX_RULES } from './rules.js';

// ---- NETWORK_CONFIG_REQUEST ---------------------------------------------------------------------------------

export interface ConfigRequest {
  readonly networkId: bigint;
  /** The metadata dictionary bytes as sent (no NUL). */
  readonly metadata: Uint8Array;
  /** Revision and timestamp of the config held (0 if none); undefined when the trailer is absent. */
  readonly revision?: bigint;
  readonly timestamp?: bigint;
}

export function encodeConfigRequest(req: ConfigRequest): Uint8Array {
  const md = req.metadata.subarray(0, 0xffff);
  const w = new WireWriter(28 + md.length);
  w.u64(req.networkId).u16(md.length).bytes(md);
  w.u64(req.revision ?? 0n).u64(req.timestamp ?? 0n);
  return w.finish();
}

/** Decodes the request; the trailer is optional (older members), anything after it is ignored. */
export function decodeConfigRequest(payload: Uint8Array): Vl2Decoded<ConfigRequest> {
  const r = new WireReader(payload);
  const networkId = r.u64();
  const len = r.u16();
  const metadata = r.bytesView(len).slice();
  if (r.failed) return vfail('too-short', 'NETWORK_CONFIG_REQUEST truncated');
  if (r.remaining >= 16) {
    const revision = r.u64();
    const timestamp = r.u64();
    return vok({ networkId, metadata, revision, timestamp });
  }
  return vok({ networkId, metadata });
}

export interface RequestMetadata {
  /** `v` config version the member understands (7). */
  readonly version: number;
  readonly vendor: number;
  readonly protocolVersion: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  readonly revision: number;
  readonly maxRules: number;
  readonly maxCapabilities: number;
  readonly maxCapabilityRules: number;
  readonly maxTags: number;
  readonly flags: number;
  /** `revr`; 0 or missing → the controller sends only ACCEPT and no capabilities/tags. */
  readonly rulesEngineRevision: number;
  /** `o`, e.g. linux/x86_64. */
  readonly osArch: string;
  /** `a` join token (`token:<t>`), if any. */
  readonly auth?: string;
}

/** The metadata a 1.14.1 member sends, in its key order (numbers as 16 hex digits). */
export function buildRequestMetadata(o: Partial<RequestMetadata> = {}): Dictionary {
  const d = new Dictionary(METADATA_DICT_CAPACITY);
  d.addU64('v', o.version ?? CONFIG_VERSION);
  d.addU64('vend', o.vendor ?? 1);
  d.addU64('pv', o.protocolVersion ?? 12);
  d.addU64('majv', o.majorVersion ?? 1);
  d.addU64('minv', o.minorVersion ?? 14);
  d.addU64('revv', o.revision ?? 1);
  d.addU64('mr', o.maxRules ?? MAX_RULES);
  d.addU64('mc', o.maxCapabilities ?? MAX_CAPABILITIES);
  d.addU64('mcr', o.maxCapabilityRules ?? 64);
  d.addU64('mt', o.maxTags ?? MAX_TAGS);
  d.addU64('f', o.flags ?? 0);
  d.addU64('revr', o.rulesEngineRevision ?? 1);
  d.add('o', o.osArch ?? 'linux/x86_64');
  if (o.auth !== undefined) d.add('a', o.auth);
  return d;
}

/** Reads request metadata as the controller does (into a 1024-byte dictionary). Missing numbers read as 0. */
export function parseRequestMetadata(src: Uint8Array | Dictionary): RequestMetadata {
  const d = src instanceof Dictionary ? src : Dictionary.from(src, METADATA_DICT_CAPACITY);
  const n = (k: string) => Number(d.getU64(k, 0n) & 0xffffffffn);
  const auth = d.get('a', 1023);
  return {
    version: n('v'),
    vendor: n('vend'),
    protocolVersion: n('pv'),
    majorVersion: n('majv'),
    minorVersion: n('minv'),
    revision: n('revv'),
    maxRules: n('mr'),
    maxCapabilities: n('mc'),
    maxCapabilityRules: n('mcr'),
    maxTags: n('mt'),
    flags: n('f'),
    rulesEngineRevision: n('revr'),
    osArch: d.getString('o', '', 127),
    ...(auth !== undefined ? { auth: new TextDecoder().decode(auth) } : {}),
  };
}
