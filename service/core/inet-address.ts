// Physical (UDP) address in ZeroTier's binary "InetAddress" form (PROTOCOL-VL1.md §6.2).
// Text form, sort order and sizes live in inet-address-text.ts.
//
//   00                                   nil / none                   (1 byte)
//   04 | ip 4 | port 2                   IPv4                         (7 bytes)
//   06 | ip 16 | port 2                  IPv6                         (19 bytes)
//   01 or 02 | 6 bytes                   reserved, skipped            (7 bytes)
//   03 | len 2 | len bytes               reserved, skipped            (3 + len)
//   anything else                        malformed: the whole packet is dropped
// Writers emit only 00, 04 and 06.
import { INETADDR_TYPE_IPV4, INETADDR_TYPE_IPV6, INETADDR_TYPE_NIL } from './constants.js';
import { type WireReader, WireWriter } from './wire.js';

export interface InetAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly ip: Uint8Array;
  readonly port: number;
}

/**
 * Reads one address at the reader's cursor. Returns the address, null for nil or a skipped reserved type, or
 * undefined (and the reader marked failed) for a malformed or truncated one. Never throws.
 */
export function readInetAddress(r: WireReader): InetAddress | null | undefined {
  const type = r.u8();
  switch (type) {
    case INETADDR_TYPE_NIL:
      return r.failed ? undefined : null;
    case INETADDR_TYPE_IPV4: {
      const ip = r.bytesView(4).slice();
      const port = r.u16();
      return r.failed ? undefined : { family: 4, ip, port };
    }
    case INETADDR_TYPE_IPV6: {
      const ip = r.bytesView(16).slice();
      const port = r.u16();
      return r.failed ? undefined : { family: 6, ip, port };
    }
    case 0x01:
    case 0x02:
      r.skip(6);
      return r.failed ? undefined : null;
    case 0x03:
      r.skip(r.u16());
      return r.failed ? undefined : null;
    default:
      r.failed = true;
      return undefined;
  }
}

/** Appends the binary form (nil for null). */
export function writeInetAddress(w: WireWriter, a: InetAddress | null): void {
  if (a === null) {
    w.u8(INETADDR_TYPE_NIL);
    return;
  }
  w.u8(a.family === 4 ? INETADDR_TYPE_IPV4 : INETADDR_TYPE_IPV6);
  w.bytes(a.ip);
  w.u16(a.port);
}

export function encodeInetAddress(a: InetAddress | null): Uint8Array {
  const w = new WireWriter(19);
  writeInetAddress(w, a);
  return w.finish();
}

export function inetAddressEquals(a: InetAddress | null, b: InetAddress | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.family !== b.family || a.port !== b.port || a.ip.length !== b.ip.length) return false;
  for (let i = 0; i < a.ip.length; i++) if (a.ip[i] !== b.ip[i]) return false;
  return true;
}
