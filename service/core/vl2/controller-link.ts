// The node's side of the network-controller interface (PROTOCOL-VL2.md §3.2, §3.5, §5.7, §10.6): hands
// NETWORK_CONFIG_REQUESTs for this node's networks to its NetworkController, and carries the controller's
// answers onto the wire — configs cut into signed chunks (OK(NETWORK_CONFIG_REQUEST) in reply, NETWORK_CONFIG
// when pushed), ERROR(NETWORK_CONFIG_REQUEST) with the network ID, and revocations in NETWORK_CREDENTIALS.
// Answers addressed to the node itself (a member of its own network) go to `local` instead.
//
// The VL2 handler of the node calls handleRequest() for every NETWORK_CONFIG_REQUEST it receives.
import { Verb } from '../constants.js';
import type { Identity } from '../identity.js';
import type { Vl2Handler } from '../node.js';
import { encodeNetworkError, encodeOk } from '../verbs.js';
import { readU64 } from '../wire.js';
import {
  controllerErrorCode,
  isControllerOf,
  type NetworkConfigRequest,
  type NetworkController,
  type NetworkControllerError,
  type NetworkControllerSender,
  PUSH_PACKET_ID,
} from './controller-interface.js';
import { decodeConfigRequest, makeConfigChunks } from './network-config.js';

/** What the link needs of the node. */
export interface ControllerLinkNode {
  readonly identity: Identity;
  /** The host's randomness (config update IDs). */
  random(out: Uint8Array): void;
  sendTo(now: number, destination: number, verb: number, payload: Uint8Array, compress?: boolean): boolean;
}

export type ConfigRequestOutcome = 'handled' | 'not-ours' | 'malformed' | 'no-controller';

export class ControllerLink implements NetworkControllerSender {
  /** Answers for the node itself (self-join); when absent they are dropped. */
  local: NetworkControllerSender | undefined;
  private readonly random = new Uint8Array(8);

  /** Does not attach itself: install() does, or a full VL2 handler attaches itself as the sender instead. */
  constructor(
    private readonly node: ControllerLinkNode,
    readonly controller: NetworkController | undefined,
  ) {}

  /**
   * A NETWORK_CONFIG_REQUEST from `requester` (VL1-authenticated) with the on-wire `packetId`. Requests for
   * networks this node does not control are ignored, as 1.14.1 does.
   */
  handleRequest(now: number, requester: Identity, packetId: bigint, payload: Uint8Array): ConfigRequestOutcome {
    const d = decodeConfigRequest(payload);
    if (!d.ok) return 'malformed';
    if (!isControllerOf(this.node.identity.address, d.value.networkId)) return 'not-ours';
    if (!this.controller) return 'no-controller';
    const req: NetworkConfigRequest = {
      networkId: d.value.networkId,
      requester: requester.toPublic(),
      metadata: d.value.metadata,
      packetId,
      haveRevision: d.value.revision ?? 0n,
      haveTimestamp: d.value.timestamp ?? 0n,
    };
    this.controller.request(now, req);
    return 'handled';
  }

  sendConfig(now: number, networkId: bigint, requestPacketId: bigint, destination: number, config: Uint8Array): void {
    if (destination === this.node.identity.address) {
      this.local?.sendConfig(now, networkId, requestPacketId, destination, config);
      return;
    }
    const updateId = this.updateId();
    for (const chunk of makeConfigChunks(networkId, config, updateId, this.node.identity)) {
      if (requestPacketId === PUSH_PACKET_ID) this.node.sendTo(now, destination, Verb.NETWORK_CONFIG, chunk, true);
      else
        this.node.sendTo(
          now,
          destination,
          Verb.OK,
          encodeOk(Verb.NETWORK_CONFIG_REQUEST, requestPacketId, chunk),
          true,
        );
    }
  }

  sendError(
    now: number,
    networkId: bigint,
    requestPacketId: bigint,
    destination: number,
    error: NetworkControllerError,
  ): void {
    if (destination === this.node.identity.address) {
      this.local?.sendError(now, networkId, requestPacketId, destination, error);
      return;
    }
    if (requestPacketId === PUSH_PACKET_ID) return;
    const payload = encodeNetworkError(
      Verb.NETWORK_CONFIG_REQUEST,
      requestPacketId,
      controllerErrorCode(error),
      networkId,
    );
    this.node.sendTo(now, destination, Verb.ERROR, payload);
  }

  sendRevocation(now: number, destination: number, revocation: Uint8Array): void {
    if (destination === this.node.identity.address) {
      this.local?.sendRevocation(now, destination, revocation);
      return;
    }
    // NETWORK_CREDENTIALS: no COMs (00), no capabilities, no tags, one revocation, no COOs.
    const payload = new Uint8Array(7 + revocation.length + 2);
    payload.set([0, 0, 0, 0, 0, 0, 1]);
    payload.set(revocation, 7);
    this.node.sendTo(now, destination, Verb.NETWORK_CREDENTIALS, payload, true);
  }

  /**
   * Attaches this link as the controller's sender and returns a VL2 handler for a node with no member side:
   * NETWORK_CONFIG_REQUESTs go to the controller, everything else is left unhandled.
   */
  install(): Vl2Handler {
    this.controller?.attach(this);
    return {
      handlePacket: (now, peer, p) =>
        p.verb === Verb.NETWORK_CONFIG_REQUEST &&
        this.handleRequest(now, peer.identity, p.header.packetId, p.payload) === 'handled',
      handleOk: () => {},
      handleError: () => {},
    };
  }

  private updateId(): bigint {
    for (;;) {
      this.node.random(this.random);
      const id = readU64(this.random, 0);
      if (id !== 0n) return id;
    }
  }
}
