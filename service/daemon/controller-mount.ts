// The embedded network controller inside the service: <home>/controller.d, the /controller API routes, and
// the node's NETWORK_CONFIG_REQUESTs for networks whose ID starts with our address.

import { EmbeddedController } from '../controller/controller.js';
import type { Identity } from '../core/identity.js';
import type { Node } from '../core/node.js';
import { ControllerLink } from '../core/vl2/controller-link.js';
import type { ApiServer } from './api.js';

export interface ControllerMount {
  readonly controller: EmbeddedController;
  /** The node-side link, used when no member-side VL2 handler is installed. */
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
  // A node without a member-side VL2 handler answers config requests through the link; a full VL2 handler
  // (installed before or after this) attaches itself to the controller as its sender.
  if (!node.vl2) node.vl2 = link.install();
  api.use(controller.route);
  return { controller, link, close: () => controller.idle() };
}
