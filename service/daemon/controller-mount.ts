// The embedded network controller inside the service: <home>/controller.d and the /controller API routes.
// The node's VL2 handler (Vl2, given `controller`) hands it NETWORK_CONFIG_REQUESTs for networks whose ID
// starts with our address and carries its answers.
//
// Opened lazily: a node whose home has no controller.d (most nodes of a host of many, issue 16) opens it, and
// creates the folder, only when it is first used (a /controller API call, or a config request for one of its
// own networks). A home that has controller.d opens it at start, so bad records are reported then.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedController } from '../controller/controller.js';
import type { Identity } from '../core/identity.js';
import type {
  NetworkConfigRequest,
  NetworkController,
  NetworkControllerSender,
} from '../core/vl2/controller-interface.js';
import type { ApiRequest, ApiServer } from './api.js';

export interface ControllerMount {
  /** The node's controller for Vl2 (it opens controller.d on the first request, when not open yet). */
  readonly controller: NetworkController;
  /** Whether controller.d is open (false until first used, when the home had none). */
  readonly opened: boolean;
  /** Waits for queued requests and edits to finish and their files to be written. */
  close(): Promise<void>;
}

type Log = { info(m: string): void; warn(m: string): void; debug(m: string): void };

class LazyController implements NetworkController, ControllerMount {
  private embedded: EmbeddedController | undefined;
  private opening: Promise<EmbeddedController> | undefined;
  private sender: NetworkControllerSender | undefined;
  private closed = false;

  constructor(
    private readonly home: string,
    private readonly identity: Identity,
    private readonly log: Log,
    private readonly clock: () => number,
  ) {}

  get controller(): NetworkController {
    return this;
  }

  get opened(): boolean {
    return this.embedded !== undefined;
  }

  open(): Promise<EmbeddedController> {
    if (!this.opening) {
      const { home, identity, log, clock } = this;
      this.opening = EmbeddedController.open({ home, identity, log, clock }).then(({ controller }) => {
        this.embedded = controller;
        if (this.sender) controller.attach(this.sender);
        return controller;
      });
    }
    return this.opening;
  }

  attach(sender: NetworkControllerSender): void {
    this.sender = sender;
    this.embedded?.attach(sender);
  }

  request(now: number, req: NetworkConfigRequest): void {
    if (this.embedded) return this.embedded.request(now, req);
    if (this.closed) return;
    this.open().then(
      (c) => c.request(this.clock(), req),
      (e) => this.log.warn(`controller: ${(e as Error).message}`),
    );
  }

  /** The /controller (and /unstable/controller) routes: the only API calls that open controller.d. */
  readonly route = async (req: ApiRequest) => {
    const [a, b] = req.segments;
    if (a !== 'controller' && !(a === 'unstable' && b === 'controller')) return undefined;
    return (await this.open()).route(req);
  };

  async close(): Promise<void> {
    this.closed = true;
    const c = this.embedded ?? (await this.opening?.catch(() => undefined));
    await c?.idle();
  }
}

export async function mountController(
  home: string,
  identity: Identity,
  api: ApiServer,
  log: Log,
  clock: () => number = Date.now,
): Promise<ControllerMount> {
  const mount = new LazyController(home, identity, log, clock);
  if (existsSync(join(home, 'controller.d'))) await mount.open();
  api.use(mount.route);
  return mount;
}
