// Two lwIP stacks (netcon/stack.ts) on an in-memory link (netcon/memory-link.ts), as NetBackends.
import type { NetBackend } from '../../netcon/backend.js';
import type { IpAssignment } from '../../netcon/stack-types.js';

export async function lwipPair(a: IpAssignment[], b: IpAssignment[]): Promise<[NetBackend, NetBackend, () => void]> {
  throw new Error(`lwip backend not available yet (${a.length}, ${b.length})`);
}
