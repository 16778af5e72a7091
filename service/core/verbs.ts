// Payload codecs for the VL1 verbs (PROTOCOL-VL1.md §6). A payload is the bytes after the verb byte, already
// authenticated, decrypted and decompressed (packet.ts openPacket). Each decoder checks lengths as it reads
// and returns a typed value or a typed failure; each encoder returns the payload bytes.
// VL2 verbs are passed through raw (decodeMessage returns their payload for the VL2 codecs).
//
// Identities inside HELLO and OK(WHOIS) are read with a small local parser of the binary type-0 form and
// returned as raw fields plus their byte range, so this module does not depend on identity.ts:
//   address 5 | type 1 (0) | public key 64 | private length 1 (0 or 64) | private key 0/64
import { ErrorCode, PACKET_IDX_PAYLOAD, VERB_MASK, Verb } from './constants.js';
import { type InetAddress, readInetAddress, serializeInetAddress } from './inet-address.js';
import { type Decoded, fail, ok } from './result.js';
import { WireReader, WireWriter } from './wire.js';

/** Reads an InetAddress at the reader's cursor; undefined (and the reader failed) when malformed. */
function readInet(r: WireReader): InetAddress | null | undefined {
  const res = readInetAddress(r.bytes.subarray(0, r.end), r.pos);
  if (!res.ok) {
    r.failed = true;
    r.pos = r.end;
    return undefined;
  }
  r.skip(res.length);
  return res.address;
}

// ---- Identity (binary form, raw) ----------------------------------------------------------------------------

export interface RawIdentity {
  readonly address: number;
  /** Always 0 (the only type a 1.14.1 node sends). */
  readonly type: number;
  /** X25519 public (32) || Ed25519 public (32). */
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array | undefined;
  /** The serialized identity exactly as it appeared (for Identity.deserialize). */
  readonly bytes: Uint8Array;
}

export function readRawIdentity(r: WireReader): RawIdentity | undefined {
  const start = r.pos;
  const address = r.address();
  const type = r.u8();
  if (r.failed || type !== 0) {
    r.failed = true;
    return undefined;
  }
  const publicKey = r.bytesView(64).slice();
  const privLen = r.u8();
  if (privLen !== 0 && privLen !== 64) r.failed = true;
  const privateKey = privLen === 64 ? r.bytesView(64).slice() : undefined;
  if (r.failed) return undefined;
  return { address, type, publicKey, privateKey, bytes: r.bytes.slice(start, r.pos) };
}

export function writeRawIdentity(w: WireWriter, id: { address: number; publicKey: Uint8Array }): void {
  w.address(id.address).u8(0).bytes(id.publicKey).u8(0);
}

// ---- HELLO (0x01) ---------------------------------------------------------------------------------------------
//
//   +-------+-----+-----+-------+--------------+-------------+---------------+----------+----------+-------------
//   | proto | maj | min | rev 2 | timestamp  8 | identity 71 | phys dest 1/7/19 | planet id 8 | planet ts 8 | tail…
//   +-------+-----+-----+-------+--------------+-------------+---------------+----------+----------+-------------
//   tail (encrypted separately, crypto.ts cryptField, before armoring): moon count 2 | per moon: type 1, id 8, ts 8
//   Everything after the identity is optional on receive: each field is read only if bytes remain.

export interface HelloMoon {
  readonly type: number;
  readonly id: bigint;
  readonly timestamp: bigint;
}

export interface Hello {
  readonly protocolVersion: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly versionRevision: number;
  readonly timestamp: bigint;
  readonly identity: RawIdentity;
  /** Where the sender sent the datagram; null when sent as nil; undefined when absent. */
  readonly physicalDestination: InetAddress | null | undefined;
  readonly planetWorldId: bigint | undefined;
  readonly planetWorldTimestamp: bigint | undefined;
  /** Offset of the encrypted tail inside the payload, or undefined if there is none. */
  readonly tailOffset: number | undefined;
}

export function decodeHello(p: Uint8Array): Decoded<Hello> {
  const r = new WireReader(p);
  const protocolVersion = r.u8();
  const versionMajor = r.u8();
  const versionMinor = r.u8();
  const versionRevision = r.u16();
  const timestamp = r.u64();
  const identity = readRawIdentity(r);
  if (r.failed || identity === undefined) return fail('malformed');
  let physicalDestination: InetAddress | null | undefined;
  let planetWorldId: bigint | undefined;
  let planetWorldTimestamp: bigint | undefined;
  let tailOffset: number | undefined;
  if (r.remaining > 0) {
    physicalDestination = readInet(r);
    if (r.failed) return fail('malformed');
  }
  if (r.remaining >= 16) {
    planetWorldId = r.u64();
    planetWorldTimestamp = r.u64();
  }
  if (r.remaining > 0) tailOffset = r.pos;
  return ok({
    protocolVersion,
    versionMajor,
    versionMinor,
    versionRevision,
    timestamp,
    identity,
    physicalDestination,
    planetWorldId,
    planetWorldTimestamp,
    tailOffset,
  });
}

/**
 * Parses the HELLO tail after decryption: the moon list (a tail shorter than the 2-byte count means none).
 * Entries of every type are returned; only type 0x7f (moon) means anything to 1.14.1.
 */
export function decodeHelloTail(tail: Uint8Array): Decoded<HelloMoon[]> {
  if (tail.length < 2) return ok([]);
  const r = new WireReader(tail);
  const count = r.u16();
  if (r.failed || count * 17 > r.remaining) return fail('malformed');
  const moons: HelloMoon[] = [];
  for (let i = 0; i < count; i++) moons.push({ type: r.u8(), id: r.u64(), timestamp: r.u64() });
  return r.failed ? fail('malformed') : ok(moons);
}

export interface HelloInit {
  readonly protocolVersion: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly versionRevision: number;
  readonly timestamp: bigint;
  readonly identity: { address: number; publicKey: Uint8Array };
  readonly physicalDestination: InetAddress | null;
  readonly planetWorldId: bigint;
  readonly planetWorldTimestamp: bigint;
  readonly moons: readonly HelloMoon[];
}

/** The HELLO payload with its tail in plaintext; encrypt payload[tailOffset..] with cryptField before armoring. */
export function encodeHello(h: HelloInit): { payload: Uint8Array; tailOffset: number } {
  const w = new WireWriter(128 + h.moons.length * 17);
  w.u8(h.protocolVersion).u8(h.versionMajor).u8(h.versionMinor).u16(h.versionRevision).u64(h.timestamp);
  writeRawIdentity(w, h.identity);
  w.bytes(serializeInetAddress(h.physicalDestination));
  w.u64(h.planetWorldId).u64(h.planetWorldTimestamp);
  const tailOffset = w.length;
  w.u16(h.moons.length);
  for (const m of h.moons) w.u8(m.type).u64(m.id).u64(m.timestamp);
  return { payload: w.finish(), tailOffset };
}

/** Where a HELLO payload's tail sits inside the whole packet (for cryptField). */
export function helloTailPacketOffset(tailOffset: number): number {
  return PACKET_IDX_PAYLOAD + tailOffset;
}

// ---- OK (0x03) --------------------------------------------------------------------------------------------------
//
//   +------------+------------------+--------------------------------
//   | in-re verb | in-re packet ID 8| payload (depends on in-re verb)
//   +------------+------------------+--------------------------------
//   OK(HELLO):  timestamp echo 8 | proto 1 | maj 1 | min 1 | rev 2 | phys addr 1/7/19 | worlds length 2 | worlds
//   OK(WHOIS):  identity 71 | identity 71 | ...
//   OK(ECHO):   a copy of the ECHO payload
//   in-re packet ID = the request's wire bytes 0-7 (for suite 3 the SIV tag half, not the inner IV)

export interface OkHello {
  readonly timestamp: bigint;
  readonly protocolVersion: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly versionRevision: number;
  /** Where the responder saw the HELLO come from; undefined when absent. */
  readonly physicalAddress: InetAddress | null | undefined;
  /** Serialized worlds, back to back (empty when none). */
  readonly worlds: Uint8Array;
}

export type OkBody =
  | { readonly kind: 'hello'; readonly hello: OkHello }
  | { readonly kind: 'whois'; readonly identities: readonly RawIdentity[] }
  | { readonly kind: 'echo'; readonly data: Uint8Array }
  /** VL2 and other replies: decoded by their own codecs from `data`. */
  | { readonly kind: 'other'; readonly data: Uint8Array };

export type Ok = { readonly inReVerb: number; readonly inRePacketId: bigint } & OkBody;

export function decodeOk(p: Uint8Array): Decoded<Ok> {
  const r = new WireReader(p);
  const inReVerb = r.u8() & VERB_MASK;
  const inRePacketId = r.u64();
  if (r.failed) return fail('malformed');
  switch (inReVerb) {
    case Verb.HELLO: {
      const timestamp = r.u64();
      const protocolVersion = r.u8();
      const versionMajor = r.u8();
      const versionMinor = r.u8();
      const versionRevision = r.u16();
      if (r.failed) return fail('malformed');
      let physicalAddress: InetAddress | null | undefined;
      if (r.remaining > 0) physicalAddress = readInet(r);
      let worlds: Uint8Array = new Uint8Array(0);
      if (r.remaining >= 2) worlds = r.bytesView(r.u16());
      if (r.failed) return fail('malformed');
      return ok({
        inReVerb,
        inRePacketId,
        kind: 'hello',
        hello: { timestamp, protocolVersion, versionMajor, versionMinor, versionRevision, physicalAddress, worlds },
      });
    }
    case Verb.WHOIS: {
      // 1.14.1 uses only the first identity; trailing bytes that do not parse are ignored as it does.
      const identities: RawIdentity[] = [];
      while (r.remaining > 0) {
        const id = readRawIdentity(r);
        if (id === undefined) break;
        identities.push(id);
      }
      if (identities.length === 0) return fail('malformed');
      return ok({ inReVerb, inRePacketId, kind: 'whois', identities });
    }
    case Verb.ECHO:
      return ok({ inReVerb, inRePacketId, kind: 'echo', data: r.rest() });
    default:
      return ok({ inReVerb, inRePacketId, kind: 'other', data: r.rest() });
  }
}

/** OK with an arbitrary reply payload (VL2 replies, OK(ECHO)). */
export function encodeOk(inReVerb: number, inRePacketId: bigint, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new WireWriter(9 + data.length).u8(inReVerb).u64(inRePacketId).bytes(data).finish();
}

export function encodeOkHello(inRePacketId: bigint, h: OkHello): Uint8Array {
  const w = new WireWriter(40 + h.worlds.length);
  w.u8(Verb.HELLO).u64(inRePacketId).u64(h.timestamp);
  w.u8(h.protocolVersion).u8(h.versionMajor).u8(h.versionMinor).u16(h.versionRevision);
  w.bytes(serializeInetAddress(h.physicalAddress ?? null));
  w.u16(h.worlds.length).bytes(h.worlds);
  return w.finish();
}

export function encodeOkWhois(
  inRePacketId: bigint,
  identities: readonly { address: number; publicKey: Uint8Array }[],
): Uint8Array {
  const w = new WireWriter(9 + 71 * identities.length);
  w.u8(Verb.WHOIS).u64(inRePacketId);
  for (const id of identities) writeRawIdentity(w, id);
  return w.finish();
}

// ---- ERROR (0x02) -----------------------------------------------------------------------------------------------
//
//   +------------+-------------------+------------+-----------------------------
//   | in-re verb | in-re packet ID 8 | error code | payload (network ID 8 for codes 03, 05-09; more for 08/09)
//   +------------+-------------------+------------+-----------------------------

export interface ErrorMessage {
  readonly inReVerb: number;
  readonly inRePacketId: bigint;
  readonly code: number;
  /** For the codes that carry one (03, 05, 06, 07, 08, 09) when present. */
  readonly networkId: bigint | undefined;
  /** Everything after the error code. */
  readonly data: Uint8Array;
}

const ERRORS_WITH_NETWORK = new Set<number>([
  ErrorCode.OBJ_NOT_FOUND,
  ErrorCode.UNSUPPORTED_OPERATION,
  ErrorCode.NEED_MEMBERSHIP_CERTIFICATE,
  ErrorCode.NETWORK_ACCESS_DENIED,
  ErrorCode.UNWANTED_MULTICAST,
  ErrorCode.NETWORK_AUTHENTICATION_REQUIRED,
]);

export function decodeError(p: Uint8Array): Decoded<ErrorMessage> {
  const r = new WireReader(p);
  const inReVerb = r.u8() & VERB_MASK;
  const inRePacketId = r.u64();
  const code = r.u8();
  if (r.failed) return fail('malformed');
  const data = r.rest();
  const networkId = ERRORS_WITH_NETWORK.has(code) && data.length >= 8 ? new WireReader(data).u64() : undefined;
  return ok({ inReVerb, inRePacketId, code, networkId, data });
}

export function encodeError(inReVerb: number, inRePacketId: bigint, code: number, data?: Uint8Array): Uint8Array {
  const w = new WireWriter(10 + (data?.length ?? 0));
  w.u8(inReVerb).u64(inRePacketId).u8(code);
  if (data) w.bytes(data);
  return w.finish();
}

/** ERROR whose payload is a network ID (codes 03, 05, 06, 07). */
export function encodeNetworkError(
  inReVerb: number,
  inRePacketId: bigint,
  code: number,
  networkId: bigint,
): Uint8Array {
  return new WireWriter(18).u8(inReVerb).u64(inRePacketId).u8(code).u64(networkId).finish();
}

// ---- WHOIS (0x04) ------------------------------------------------------------------------------------------------
//
//   +-----------+-----------+----
//   | address 5 | address 5 | ...      (1.14.1 sends exactly one; trailing bytes short of 5 are ignored)
//   +-----------+-----------+----

export interface Whois {
  readonly addresses: readonly number[];
}

export function decodeWhois(p: Uint8Array): Decoded<Whois> {
  const r = new WireReader(p);
  const addresses: number[] = [];
  while (r.remaining >= 5) addresses.push(r.address());
  return addresses.length > 0 ? ok({ addresses }) : fail('malformed');
}

export function encodeWhois(w: Whois): Uint8Array {
  const out = new WireWriter(5 * w.addresses.length);
  for (const a of w.addresses) out.address(a);
  return out.finish();
}

// ---- RENDEZVOUS (0x05) ------------------------------------------------------------------------------------------
//
//   +-------+----------------+--------+-------------+----------------+
//   | flags | peer address 5 | port 2 | addr len 1  | IP 4 or 16     |
//   +-------+----------------+--------+-------------+----------------+

export interface Rendezvous {
  readonly flags: number;
  readonly address: number;
  readonly endpoint: InetAddress;
}

export function decodeRendezvous(p: Uint8Array): Decoded<Rendezvous> {
  const r = new WireReader(p);
  const flags = r.u8();
  const address = r.address();
  const port = r.u16();
  const len = r.u8();
  if (r.failed || (len !== 4 && len !== 16)) return fail('malformed');
  const ip = r.bytesView(len).slice();
  if (r.failed) return fail('malformed');
  return ok({ flags, address, endpoint: { family: len === 4 ? 4 : 6, ip, port } });
}

export function encodeRendezvous(v: Rendezvous): Uint8Array {
  const w = new WireWriter(25);
  w.u8(v.flags).address(v.address).u16(v.endpoint.port).u8(v.endpoint.ip.length).bytes(v.endpoint.ip);
  return w.finish();
}

// ---- ECHO (0x08) ------------------------------------------------------------------------------------------------
//   any payload (1.14.1 sends none); OK(ECHO) returns a copy of it.

export interface Echo {
  readonly data: Uint8Array;
}

export function decodeEcho(p: Uint8Array): Decoded<Echo> {
  return ok({ data: p });
}

export function encodeEcho(e: Echo): Uint8Array {
  return e.data.slice();
}

// ---- PUSH_DIRECT_PATHS (0x10) -----------------------------------------------------------------------------------
//
//   +---------+----------------------------------------------------------------------------------+
//   | count 2 | per record: flags 1 | ext len 2 | ext | addr type 1 | addr len 1 | addr (len)    | ...
//   +---------+----------------------------------------------------------------------------------+
//   addr type 4: IPv4 4 + port 2 (len 6); type 6: IPv6 16 + port 2 (len 18); other types are skipped.
//   flags: 0x01 forget path (ignored by 1.14.1), 0x02 cluster redirect.

export interface PushedPath {
  readonly flags: number;
  readonly extension: Uint8Array;
  readonly addressType: number;
  /** The endpoint, or null for a type or length that is skipped. */
  readonly address: InetAddress | null;
}

export interface PushDirectPaths {
  readonly paths: readonly PushedPath[];
}

export function decodePushDirectPaths(p: Uint8Array): Decoded<PushDirectPaths> {
  const r = new WireReader(p);
  const count = r.u16();
  if (r.failed || count * 5 > r.remaining) return fail('malformed');
  const paths: PushedPath[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    const extension = r.bytesView(r.u16());
    const addressType = r.u8();
    const addrLen = r.u8();
    const raw = r.bytesView(addrLen);
    if (r.failed) return fail('malformed');
    let address: InetAddress | null = null;
    if (addressType === 4 && addrLen === 6) {
      address = { family: 4, ip: raw.slice(0, 4), port: (raw[4]! << 8) | raw[5]! };
    } else if (addressType === 6 && addrLen === 18) {
      address = { family: 6, ip: raw.slice(0, 16), port: (raw[16]! << 8) | raw[17]! };
    }
    paths.push({ flags, extension, addressType, address });
  }
  return ok({ paths });
}

export function encodePushDirectPaths(v: {
  paths: readonly { flags?: number; extension?: Uint8Array; address: InetAddress }[];
}): Uint8Array {
  const w = new WireWriter(2 + 24 * v.paths.length);
  w.u16(v.paths.length);
  for (const p of v.paths) {
    const ext = p.extension ?? new Uint8Array(0);
    w.u8(p.flags ?? 0)
      .u16(ext.length)
      .bytes(ext);
    w.u8(p.address.family)
      .u8(p.address.ip.length + 2)
      .bytes(p.address.ip)
      .u16(p.address.port);
  }
  return w.finish();
}

// ---- USER_MESSAGE (0x14) ----------------------------------------------------------------------------------------
//
//   +-------------------+-----------------
//   | message type ID 8 | data (any length)        type IDs ≤ 65535 are reserved for ZeroTier
//   +-------------------+-----------------

export interface UserMessage {
  readonly typeId: bigint;
  readonly data: Uint8Array;
}

export function decodeUserMessage(p: Uint8Array): Decoded<UserMessage> {
  const r = new WireReader(p);
  const typeId = r.u64();
  if (r.failed) return fail('malformed');
  return ok({ typeId, data: r.rest() });
}

export function encodeUserMessage(m: UserMessage): Uint8Array {
  return new WireWriter(8 + m.data.length).u64(m.typeId).bytes(m.data).finish();
}

// ---- Dispatch -----------------------------------------------------------------------------------------------------

export type Message =
  | { readonly verb: typeof Verb.NOP; readonly kind: 'nop' }
  | { readonly verb: typeof Verb.HELLO; readonly kind: 'hello'; readonly hello: Hello }
  | { readonly verb: typeof Verb.ERROR; readonly kind: 'error'; readonly error: ErrorMessage }
  | { readonly verb: typeof Verb.OK; readonly kind: 'ok'; readonly ok: Ok }
  | { readonly verb: typeof Verb.WHOIS; readonly kind: 'whois'; readonly whois: Whois }
  | { readonly verb: typeof Verb.RENDEZVOUS; readonly kind: 'rendezvous'; readonly rendezvous: Rendezvous }
  | { readonly verb: typeof Verb.ECHO; readonly kind: 'echo'; readonly echo: Echo }
  | { readonly verb: typeof Verb.PUSH_DIRECT_PATHS; readonly kind: 'push-direct-paths'; readonly push: PushDirectPaths }
  | { readonly verb: typeof Verb.USER_MESSAGE; readonly kind: 'user-message'; readonly message: UserMessage }
  /** VL2 verbs and the bonding/diagnostic ones: the payload for their own codecs. */
  | { readonly verb: number; readonly kind: 'raw'; readonly payload: Uint8Array };

const RAW_VERBS = new Set<number>([
  Verb.FRAME,
  Verb.EXT_FRAME,
  Verb.MULTICAST_LIKE,
  Verb.NETWORK_CREDENTIALS,
  Verb.NETWORK_CONFIG_REQUEST,
  Verb.NETWORK_CONFIG,
  Verb.MULTICAST_GATHER,
  Verb.MULTICAST_FRAME,
  Verb.ACK,
  Verb.QOS_MEASUREMENT,
  Verb.REMOTE_TRACE,
  Verb.PATH_NEGOTIATION_REQUEST,
]);

function wrap<T, M>(d: Decoded<T>, f: (v: T) => M): Decoded<M> {
  return d.ok ? ok(f(d.value)) : d;
}

/** Decodes a verb's payload. Unknown verb numbers fail with 'unknown-verb' (counted and dropped). */
export function decodeMessage(verb: number, p: Uint8Array): Decoded<Message> {
  switch (verb) {
    case Verb.NOP:
      return ok({ verb: Verb.NOP, kind: 'nop' });
    case Verb.HELLO:
      return wrap(decodeHello(p), (hello) => ({ verb: Verb.HELLO, kind: 'hello', hello }) as const);
    case Verb.ERROR:
      return wrap(decodeError(p), (error) => ({ verb: Verb.ERROR, kind: 'error', error }) as const);
    case Verb.OK:
      return wrap(decodeOk(p), (v) => ({ verb: Verb.OK, kind: 'ok', ok: v }) as const);
    case Verb.WHOIS:
      return wrap(decodeWhois(p), (whois) => ({ verb: Verb.WHOIS, kind: 'whois', whois }) as const);
    case Verb.RENDEZVOUS:
      return wrap(
        decodeRendezvous(p),
        (rendezvous) => ({ verb: Verb.RENDEZVOUS, kind: 'rendezvous', rendezvous }) as const,
      );
    case Verb.ECHO:
      return wrap(decodeEcho(p), (echo) => ({ verb: Verb.ECHO, kind: 'echo', echo }) as const);
    case Verb.PUSH_DIRECT_PATHS:
      return wrap(
        decodePushDirectPaths(p),
        (push) => ({ verb: Verb.PUSH_DIRECT_PATHS, kind: 'push-direct-paths', push }) as const,
      );
    case Verb.USER_MESSAGE:
      return wrap(
        decodeUserMessage(p),
        (message) => ({ verb: Verb.USER_MESSAGE, kind: 'user-message', message }) as const,
      );
    default:
      return RAW_VERBS.has(verb) ? ok({ verb, kind: 'raw', payload: p }) : fail('unknown-verb');
  }
}
