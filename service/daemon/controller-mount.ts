// The embedded network controller inside the service: <home>/controller.d and the /controller API routes.
// The node's VL2 handler (Vl2, given `controller`) hands it NETWORK_CONFIG_REQUESTs for networks whose ID
// starts with our address and carries its answers.

import { EmbeddedController } from '../controller/controller.js';
import type { Identity } from '../core/identity.js';
import type { ApiServer } from './api.js';

export interface ControllerMount {
  readonly controller: EmbeddedController;
  /** Waits for queued requests and edits to finish and their files to be written. */
  close(): Promise<void>;
}

export async function mountController(
  home: string,
  identity: Identity,
  api: ApiServer,
  log: { info(m: string): void; warn(m: string): void; debug(m: string): void },
  clock: () => number = Date.now,
): Promise<ControllerMount> {
  const { controller } = await EmbeddedController.open({ home, identity, log, clock });
  api.use(controller.route);
  return { controller, close: () => controller.idle() };
}
