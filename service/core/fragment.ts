// Fragmentation and reassembly (PROTOCOL-VL1.md §3.5).
//
// A packet longer than the path MTU is armored once, as a whole, with flag 0x40 set; its first bytes go out as
// the head (a normal, truncated packet), the rest as fragments (ZeroTier One sends an `mtu`-byte head and
// fragments of mtu-16 data bytes; we cut pieces of one length, see emitPieces):
//
//    0                   8          13     14        15     16
//   +-------------------+----------+------+---------+------+------------------------+
//   | packet ID       8 | dest   5 | 0xff |tot|num  | hops | fragment data ...      |
//   +-------------------+----------+------+---------+------+------------------------+
//   packet ID = wire bytes 0-7 of the armored head; tot = pieces including the head (high nibble),
//   num = this fragment's number 1..tot-1 (low nibble); hops is a whole byte (relays add 1, masked with 7).
//
// Reassembly keeps at most `maxPending` incomplete packets (oldest evicted first), each at most
// `maxPacketLength` bytes, and drops sets older than `timeout`. Time is passed in; nothing here reads a clock.
import {
  DEFAULT_PHYSMTU,
  FLAG_FRAGMENTED,
  FLAGS_HOPS_MASK,
  FRAGMENT_HEADER_LENGTH,
  FRAGMENT_IDX_DEST,
  FRAGMENT_IDX_HOPS,
  FRAGMENT_IDX_INDICATOR,
  FRAGMENT_IDX_NUMBERS,
  FRAGMENT_INDICATOR,
  FRAGMENT_REASSEMBLY_TIMEOUT,
  MAX_PACKET_FRAGMENTS,
  MAX_PACKET_LENGTH,
  PACKET_IDX_FLAGS,
  PACKET_MIN_LENGTH,
  RX_QUEUE_SIZE,
} from './constants.js';
import { type Decoded, type DropReason, fail, ok } from './result.js';
import { readAddress, readU32 } from './wire.js';

export interface FragmentHeader {
  /** The packet ID (wire bytes 0-7) as two unsigned 32-bit halves: numbers, not a BigInt, on the data path. */
  readonly idHigh: number;
  readonly idLow: number;
  readonly destination: number;
  /** Pieces including the head (2..7 accepted). */
  readonly total: number;
  /** This fragment's number, 1..total-1. */
  readonly number: number;
  readonly hops: number;
  /** The fragment data: a view into the datagram. */
  readonly data: Uint8Array;
}

/** Decodes a datagram whose byte 13 is 0xff. Rejects counts outside 2 ≤ total ≤ 7, 1 ≤ number < total. */
export function decodeFragment(b: Uint8Array): Decoded<FragmentHeader> {
  if (b.length <= FRAGMENT_HEADER_LENGTH) return fail('too-short');
  if (b.length > MAX_PACKET_LENGTH) return fail('too-long');
  if (b[FRAGMENT_IDX_INDICATOR] !== FRAGMENT_INDICATOR) return fail('bad-fragment');
  const n = b[FRAGMENT_IDX_NUMBERS]!;
  const total = n >> 4;
  const number = n & 0x0f;
  if (total < 2 || total > MAX_PACKET_FRAGMENTS || number < 1 || number >= total) return fail('bad-fragment');
  return ok({
    idHigh: readU32(b, 0),
    idLow: readU32(b, 4),
    destination: readAddress(b, FRAGMENT_IDX_DEST),
    total,
    number,
    hops: b[FRAGMENT_IDX_HOPS]! & FLAGS_HOPS_MASK,
    data: b.subarray(FRAGMENT_HEADER_LENGTH),
  });
}

/** Sets a fragment's hop byte in place (relaying). */
export function setFragmentHops(b: Uint8Array, hops: number): void {
  b[FRAGMENT_IDX_HOPS] = hops & FLAGS_HOPS_MASK;
}

/** How many pieces a packet of `len` bytes becomes at this MTU (1 = not fragmented). */
export function fragmentCount(len: number, mtu = DEFAULT_PHYSMTU): number {
  if (len <= mtu) return 1;
  const chunk = mtu - FRAGMENT_HEADER_LENGTH;
  return 1 + Math.ceil((len - mtu) / chunk);
}

/**
 * Hands an armored packet's pieces to `emit` in order: the head as a view of the packet's first bytes, then the
 * fragments, each built in `scratch` (reused for the next one: emit must copy what it keeps) or, without a
 * scratch buffer, in a new buffer. The packet must have been built with flag 0x40 (packet.ts buildPacket
 * does it from the same mtu) and must fit in 7 pieces; violating either is a programming error and throws.
 *
 * The pieces are cut to one length (the last may be shorter), none longer than `mtu`: where ZeroTier One sends
 * an `mtu`-byte head and the rest, we send two halves, so that a run of equal frames is a run of equal datagrams,
 * which leave in one message (UDP GSO, udp-batch.ts). Receivers join the pieces whatever their lengths.
 */
export function emitPieces(
  armored: Uint8Array,
  mtu: number,
  emit: (piece: Uint8Array) => void,
  scratch?: Uint8Array,
): void {
  const total = fragmentCount(armored.length, mtu);
  if (total === 1) return emit(armored);
  if (total > MAX_PACKET_FRAGMENTS) throw new RangeError(`splitPacket: ${armored.length} bytes need ${total} pieces`);
  if ((armored[PACKET_IDX_FLAGS]! & FLAG_FRAGMENTED) === 0) throw new RangeError('splitPacket: flag 0x40 not set');
  // Every piece as long as the head: head + (total - 1) × (head - 16) ≥ the packet.
  const head = Math.ceil((armored.length + (total - 1) * FRAGMENT_HEADER_LENGTH) / total);
  emit(armored.subarray(0, head));
  const chunk = head - FRAGMENT_HEADER_LENGTH;
  let pos = head;
  for (let no = 1; no < total; no++) {
    const n = Math.min(chunk, armored.length - pos);
    const len = FRAGMENT_HEADER_LENGTH + n;
    const f = scratch && scratch.length >= len ? scratch.subarray(0, len) : new Uint8Array(len);
    f.set(armored.subarray(0, 13), 0); // packet ID and destination
    f[FRAGMENT_IDX_INDICATOR] = FRAGMENT_INDICATOR;
    f[FRAGMENT_IDX_NUMBERS] = (total << 4) | no;
    f[FRAGMENT_IDX_HOPS] = 0;
    f.set(armored.subarray(pos, pos + n), FRAGMENT_HEADER_LENGTH);
    emit(f);
    pos += n;
  }
}

/** The pieces of emitPieces as an array: the head (a view of the packet) and the fragments (new buffers). */
export function splitPacket(armored: Uint8Array, mtu = DEFAULT_PHYSMTU): Uint8Array[] {
  const out: Uint8Array[] = [];
  emitPieces(armored, mtu, (p) => out.push(p));
  return out;
}

export type ReassemblyResult =
  | { readonly kind: 'complete'; readonly packet: Uint8Array }
  | { readonly kind: 'pending' }
  | { readonly kind: 'dropped'; readonly reason: DropReason };

export interface ReassemblerOptions {
  /** Incomplete packets kept at once (oldest evicted). Default 32, as 1.14.1's ring. */
  readonly maxPending?: number;
  /** An incomplete set older than this is dropped. Default 5000 ms. */
  readonly timeout?: number;
  /** Largest assembled packet. Default 10024. */
  readonly maxPacketLength?: number;
}

/**
 * One incomplete packet. Its pieces are copied into `buf` one after another as they arrive (`at`/`len` say
 * where each is; -1: not yet), so in the usual order, head first, the packet assembles in place. buf grows
 * as pieces come (a spray of small fragment sets holds little) and is kept when the set is reused.
 */
interface Pending {
  idHigh: number;
  idLow: number;
  created: number;
  /** Known once a fragment has arrived (0 before). */
  total: number;
  received: number;
  /** Bytes held: also where the next piece goes in buf. */
  bytes: number;
  buf: Uint8Array;
  readonly at: Int32Array;
  readonly len: Int32Array;
}

const PENDING: ReassemblyResult = { kind: 'pending' };
/** Sets kept for reuse once their packet completed or was dropped, with their buffers. */
const SPARE_SETS = 4;
const EMPTY = new Uint8Array(0);

/**
 * Reassembly without an allocation per packet: each incomplete packet holds a buffer, taken from a few spare
 * ones, and a complete packet is handed back in one of them. That packet is lent:
 * it stays valid until the next call to addHead or addFragment (Node.processWirePacket copies what it keeps).
 */
export class Reassembler {
  /** Incomplete packets, oldest first (at most maxPending: a scan is cheaper than hashing a 64-bit ID). */
  private readonly sets: Pending[] = [];
  private readonly spare: Pending[] = [];
  /** Where a packet whose pieces came out of order is put together (lazily). */
  private out: Uint8Array | undefined;
  private readonly maxPending: number;
  private readonly timeout: number;
  private readonly maxPacketLength: number;
  /** Drops by reason (evicted, timed out, oversize, inconsistent). */
  readonly drops = new Map<DropReason, number>();

  constructor(opts: ReassemblerOptions = {}) {
    this.maxPending = Math.max(1, opts.maxPending ?? RX_QUEUE_SIZE);
    this.timeout = opts.timeout ?? FRAGMENT_REASSEMBLY_TIMEOUT;
    this.maxPacketLength = opts.maxPacketLength ?? MAX_PACKET_LENGTH;
  }

  /** Incomplete packets held now. */
  get pending(): number {
    return this.sets.length;
  }

  /** Bytes held in incomplete packets now. */
  get bytesHeld(): number {
    let n = 0;
    for (const s of this.sets) n += s.bytes;
    return n;
  }

  /** The head of a fragmented packet (flag 0x40): its whole datagram. Copied; the caller may reuse it. */
  addHead(now: number, datagram: Uint8Array): ReassemblyResult {
    if (datagram.length < PACKET_MIN_LENGTH) return this.drop('too-short');
    const s = this.slot(now, readU32(datagram, 0), readU32(datagram, 4));
    if (s.at[0]! >= 0) return PENDING; // duplicate
    return this.store(s, 0, datagram);
  }

  /** A fragment addressed to us (decoded with decodeFragment). Its data is copied; the caller may reuse it. */
  addFragment(now: number, f: FragmentHeader): ReassemblyResult {
    const s = this.slot(now, f.idHigh, f.idLow);
    if (s.total !== 0 && s.total !== f.total) return this.drop('bad-fragment');
    s.total = f.total;
    if (s.at[f.number]! >= 0) return PENDING; // duplicate
    return this.store(s, f.number, f.data);
  }

  /** Drops sets older than the timeout; returns how many. */
  expire(now: number): number {
    let n = 0;
    while (n < this.sets.length && now - this.sets[n]!.created >= this.timeout) n++;
    if (n === 0) return 0;
    for (const s of this.sets.splice(0, n)) {
      this.keep(s);
      this.count('fragment-timeout');
    }
    return n;
  }

  /** When the oldest incomplete set times out, or undefined if none is held. */
  nextDeadline(): number | undefined {
    const s = this.sets[0];
    return s === undefined ? undefined : s.created + this.timeout;
  }

  private slot(now: number, idHigh: number, idLow: number): Pending {
    if (this.sets.length > 0 && now - this.sets[0]!.created >= this.timeout) this.expire(now);
    for (const s of this.sets) if (s.idLow === idLow && s.idHigh === idHigh) return s;
    if (this.sets.length >= this.maxPending) {
      this.keep(this.sets.shift()!);
      this.count('fragment-evicted');
    }
    const s = this.spare.pop() ?? {
      idHigh,
      idLow,
      created: now,
      total: 0,
      received: 0,
      bytes: 0,
      buf: EMPTY,
      at: new Int32Array(MAX_PACKET_FRAGMENTS),
      len: new Int32Array(MAX_PACKET_FRAGMENTS),
    };
    s.idHigh = idHigh;
    s.idLow = idLow;
    s.created = now;
    s.total = 0;
    s.received = 0;
    s.bytes = 0;
    s.at.fill(-1);
    this.sets.push(s);
    return s;
  }

  /** Forgets a set. */
  private release(s: Pending): void {
    const i = this.sets.indexOf(s);
    if (i >= 0) this.sets.splice(i, 1);
    this.keep(s);
  }

  /** Keeps a forgotten set's buffer for another (while a complete packet in it is lent, nothing writes it). */
  private keep(s: Pending): void {
    if (this.spare.length < SPARE_SETS) this.spare.push(s);
  }

  private store(s: Pending, index: number, bytes: Uint8Array): ReassemblyResult {
    if (s.bytes + bytes.length > this.maxPacketLength) {
      this.release(s);
      return this.drop('fragment-too-long');
    }
    const need = s.bytes + bytes.length;
    if (need > s.buf.length) {
      const grown = new Uint8Array(Math.min(this.maxPacketLength, Math.max(2 * need, 2 * s.buf.length, 256)));
      grown.set(s.buf.subarray(0, s.bytes));
      s.buf = grown;
    }
    s.buf.set(bytes, s.bytes);
    s.at[index] = s.bytes;
    s.len[index] = bytes.length;
    s.bytes += bytes.length;
    s.received++;
    if (s.total === 0 || s.received !== s.total || s.at[0]! < 0) return PENDING;
    this.release(s);
    let pos = 0;
    let inOrder = true;
    for (let i = 0; i < s.total && inOrder; i++) {
      inOrder = s.at[i] === pos;
      pos += s.len[i]!;
    }
    if (inOrder) return { kind: 'complete', packet: s.buf.subarray(0, s.bytes) };
    this.out ??= new Uint8Array(this.maxPacketLength);
    pos = 0;
    for (let i = 0; i < s.total; i++) {
      this.out.set(s.buf.subarray(s.at[i]!, s.at[i]! + s.len[i]!), pos);
      pos += s.len[i]!;
    }
    return { kind: 'complete', packet: this.out.subarray(0, pos) };
  }

  private count(reason: DropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private drop(reason: DropReason): ReassemblyResult {
    this.count(reason);
    return { kind: 'dropped', reason };
  }
}
