// Two lwIP stacks (netcon/stack.ts) on an in-memory link (netcon/memory-link.ts), as NetBackends.
import type { NetBackend } from '../netcon/backend.js';
import { LwipBackend } from '../netcon/lwip-backend.js';
import { MemoryLink } from '../netcon/memory-link.js';
import { Stack } from '../netcon/stack.js';
import type { IpAssignment, StackConfig } from '../netcon/stack-types.js';

export function lwipPair(a: IpAssignment[], b: IpAssignment[], mtu = 2800): [NetBackend, NetBackend, () => void] {
  const cfg = (n: number, addresses: IpAssignment[]): StackConfig => ({
    mac: new Uint8Array([0x02, 0x00, 0x5e, 0x10, 0x00, n]),
    mtu,
    addresses,
    routes: [],
  });
  const ca = cfg(1, a);
  const cb = cfg(2, b);
  const sa = new Stack(ca);
  const sb = new Stack(cb);
  new MemoryLink(sa, sb);
  return [
    new LwipBackend(sa, ca),
    new LwipBackend(sb, cb),
    () => {
      sa.close();
      sb.close();
    },
  ];
}
