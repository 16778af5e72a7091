// Fragmentation and reassembly (PROTOCOL-VL1.md §3.5).
//
// A packet longer than the path MTU is armored once, as a whole, with flag 0x40 set; its first `mtu` bytes go
// out as the head (a normal, truncated packet), the rest as fragments of at most mtu-16 data bytes:
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
import { Slab } from './slab.js';
import { readAddress, readU64 } from './wire.js';

export interface FragmentHeader {
  readonly packetId: bigint;
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
    packetId: readU64(b, 0),
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
 * Hands an armored packet's pieces to `emit` in order: the head as a view of its first `mtu` bytes, then the
 * fragments, each built in `scratch` (reused for the next one: emit must copy what it keeps) or, without a
 * scratch buffer, in a new buffer. The packet must have been built with flag 0x40 (packet.ts buildPacket
 * does it from the same mtu) and must fit in 7 pieces; violating either is a programming error and throws.
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
  emit(armored.subarray(0, mtu));
  const chunk = mtu - FRAGMENT_HEADER_LENGTH;
  let pos = mtu;
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

interface Pending {
  readonly created: number;
  head: Uint8Array | undefined;
  /** Known once a fragment has arrived (0 before). */
  total: number;
  readonly pieces: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
}

const PENDING: ReassemblyResult = { kind: 'pending' };

export class Reassembler {
  private readonly sets = new Map<bigint, Pending>();
  private readonly slab = new Slab();
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
    return this.sets.size;
  }

  /** Bytes held in incomplete packets now. */
  get bytesHeld(): number {
    let n = 0;
    for (const s of this.sets.values()) n += s.bytes;
    return n;
  }

  /**
   * The head of a fragmented packet (flag 0x40): its whole datagram. Copied when it has to wait for the
   * rest; the caller may reuse it.
   */
  addHead(now: number, datagram: Uint8Array): ReassemblyResult {
    if (datagram.length < PACKET_MIN_LENGTH) return this.drop('too-short');
    const id = readU64(datagram, 0);
    const s = this.slot(now, id);
    if (s.head !== undefined) return PENDING; // duplicate
    return this.store(id, s, 0, datagram);
  }

  /** A fragment addressed to us (decoded with decodeFragment). Its data is copied when it has to wait. */
  addFragment(now: number, f: FragmentHeader): ReassemblyResult {
    const s = this.slot(now, f.packetId);
    if (s.total !== 0 && s.total !== f.total) return this.drop('bad-fragment');
    s.total = f.total;
    if (s.pieces[f.number] !== undefined) return PENDING; // duplicate
    return this.store(f.packetId, s, f.number, f.data);
  }

  /** Drops sets older than the timeout; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [id, s] of this.sets) {
      if (now - s.created < this.timeout) break; // insertion order is age order
      this.sets.delete(id);
      this.count('fragment-timeout');
      n++;
    }
    return n;
  }

  /** When the oldest incomplete set times out, or undefined if none is held. */
  nextDeadline(): number | undefined {
    for (const s of this.sets.values()) return s.created + this.timeout;
    return undefined;
  }

  private slot(now: number, id: bigint): Pending {
    this.expire(now);
    let s = this.sets.get(id);
    if (s === undefined) {
      if (this.sets.size >= this.maxPending) {
        const oldest = this.sets.keys().next().value as bigint;
        this.sets.delete(oldest);
        this.count('fragment-evicted');
      }
      s = { created: now, head: undefined, total: 0, pieces: [], received: 0, bytes: 0 };
      this.sets.set(id, s);
    }
    return s;
  }

  private store(id: bigint, s: Pending, index: number, bytes: Uint8Array): ReassemblyResult {
    if (s.bytes + bytes.length > this.maxPacketLength) {
      this.sets.delete(id);
      return this.drop('fragment-too-long');
    }
    s.bytes += bytes.length;
    s.received++;
    const complete = s.total !== 0 && s.received === s.total && (index === 0 || s.head !== undefined);
    // A piece that completes the packet is assembled straight from the caller's buffer; one that waits is copied.
    const piece = complete ? bytes : bytes.slice();
    if (index === 0) s.head = piece;
    else s.pieces[index] = piece;
    if (!complete || s.head === undefined) return PENDING;
    this.sets.delete(id);
    const packet = this.slab.take(s.bytes);
    packet.set(s.head, 0);
    let pos = s.head.length;
    for (let i = 1; i < s.total; i++) {
      const p = s.pieces[i]!;
      packet.set(p, pos);
      pos += p.length;
    }
    return { kind: 'complete', packet };
  }

  private count(reason: DropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private drop(reason: DropReason): ReassemblyResult {
    this.count(reason);
    return { kind: 'dropped', reason };
  }
}
