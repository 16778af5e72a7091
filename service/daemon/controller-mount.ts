// The embedded network controller inside the service: <home>/controller.d, the /controller API routes, and
// the node's NETWORK_CONFIG_REQUESTs for networks whose ID starts with our address.

import { EmbeddedController } from '../controller/controller.js';
import type { Identity } from '../core/identity.js';
import type { Node } from '../core/node.js';
import { ControllerLink } from '../core/vl2/controller-link.js';
import type { ApiServer } from './api.js';

export interface ControllerMount {
  readonly controller: EmbeddedController;
  /** The node-side link; a VL2 handler hands NETWORK_CONFIG_REQUESTs to `link.handleRequest`. */
  readonly link: ControllerLink;
  /** Waits for queued requests and edits to finish and their files to be written. */
  close(): Promise<void>;
}

export async function mountController(
  home: string,
  identity: Identity,
  node: Node,
  api: ApiServer,
  log: { info(m: string): void; warn(m: string): void; debug(m: string): void },
): Promise<ControllerMount> {
  const { controller } = await EmbeddedController.open({ home, identity, log });
  const link = new ControllerLink(node, controller);
  // Until a member-side VL2 handler is installed, the node answers config requests only.
  node.vl2 ??= link.vl2Handler();
  api.use(controller.route);
  return { controller, link, close: () => controller.idle() };
}
