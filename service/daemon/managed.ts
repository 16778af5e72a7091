// Which of a network's managed addresses and routes a member applies, as ZeroTier One 1.14.1 decides it
// (OneService checkIfManagedIsAllowed, InetAddress::ipScope): allowManaged gates all of them; a default route
// needs allowDefault; global addresses and routes need allowGlobal; loopback, link-local, multicast and
// unusable ones are never applied.
import type { InetAddress } from '../core/inet-address.js';

export type IpScope = 'none' | 'multicast' | 'loopback' | 'pseudoprivate' | 'global' | 'linklocal' | 'private';

export interface ManagedSettings {
  allowManaged: boolean;
  allowGlobal: boolean;
  allowDefault: boolean;
}

/** ZeroTier One's InetAddress::ipScope (the same table, in the same order). */
export function ipScope(a: InetAddress): IpScope {
  const b = a.ip;
  if (a.family === 4) {
    const ip = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    const in_ = (mask: number, net: number) => (ip & mask) >>> 0 === net >>> 0;
    switch (b[0]) {
      case 0x00:
        return 'none';
      case 0x06:
      case 0x0b:
      case 0x15:
      case 0x16:
      case 0x19:
      case 0x1a:
      case 0x1c:
      case 0x1d:
      case 0x1e:
      case 0x33:
      case 0x37:
      case 0x38:
        return 'pseudoprivate'; // blocks of the US and UK military and others, unused on the internet
      case 0x0a:
        return 'private';
      case 0x64:
        if (in_(0xffc00000, 0x64400000)) return 'private'; // 100.64.0.0/10
        break;
      case 0x7f:
        return 'loopback';
      case 0xa9:
        if (in_(0xffff0000, 0xa9fe0000)) return 'linklocal'; // 169.254.0.0/16
        break;
      case 0xac:
        if (in_(0xfff00000, 0xac100000)) return 'private'; // 172.16.0.0/12
        break;
      case 0xc0:
        if (in_(0xffff0000, 0xc0a80000)) return 'private'; // 192.168.0.0/16
        if (in_(0xffffff00, 0xc0000200)) return 'private'; // 192.0.2.0/24
        break;
      case 0xc6:
        if (in_(0xfffe0000, 0xc6120000)) return 'private'; // 198.18.0.0/15
        if (in_(0xffffff00, 0xc6336400)) return 'private'; // 198.51.100.0/24
        break;
      case 0xcb:
        if (in_(0xffffff00, 0xcb007100)) return 'private'; // 203.0.113.0/24
        break;
      case 0xff:
        return 'none';
    }
    if (b[0]! >> 4 === 0xe) return 'multicast';
    if (b[0]! >> 4 === 0xf) return 'pseudoprivate';
    return 'global';
  }
  if ((b[0]! & 0xf0) === 0xf0) {
    if (b[0] === 0xff) return 'multicast';
    if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) {
      const rest = b.subarray(2, 15).every((x) => x === 0);
      return rest && b[15] === 1 ? 'loopback' : 'linklocal';
    }
    if ((b[0]! & 0xfe) === 0xfc) return 'private';
  }
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff && b[12] === 0x7f) return 'loopback';
  if (b.subarray(0, 15).every((x) => x === 0)) {
    if (b[15] === 1) return 'loopback';
    if (b[15] === 0) return 'none';
  }
  return 'global';
}

/** A default route: the all-zero address with no prefix bits (`port` holds the prefix length). */
export function isDefaultRoute(a: InetAddress): boolean {
  return a.port === 0 && a.ip.every((x) => x === 0);
}

/** ZeroTier One's checkIfManagedIsAllowed, for an address (port = prefix bits) or a route target. */
export function managedAllowed(s: ManagedSettings, target: InetAddress): boolean {
  if (!s.allowManaged) return false;
  if (isDefaultRoute(target)) return s.allowDefault;
  switch (ipScope(target)) {
    case 'none':
    case 'multicast':
    case 'loopback':
    case 'linklocal':
      return false;
    case 'global':
      return s.allowGlobal;
    default:
      return true;
  }
}
