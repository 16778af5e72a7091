// Two lwIP stacks (netcon/stack.ts) on an in-memory link (netcon/memory-link.ts), handed to the socket table
// as they are, exactly as the daemon hands each network's stack to its RPC server (service/daemon/networks.ts).
import type { NetBackend } from '../netcon/backend.js';
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
  const sa = new Stack(cfg(1, a));
  const sb = new Stack(cfg(2, b));
  new MemoryLink(sa, sb);
  return [
    sa,
    sb,
    () => {
      sa.close();
      sb.close();
    },
  ];
}
