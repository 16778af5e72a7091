// The network-controller interface of the core (PROTOCOL-VL2.md §3.2, §3.5, §10.6).
//
// A node is the controller of every network whose ID starts with its own address (nwid >> 24). When a
// NETWORK_CONFIG_REQUEST for such a network arrives (or the node asks itself, in-process), the node hands it
// to a NetworkController. The controller answers, now or later (it may touch storage first), through the
// NetworkControllerSender the node gave it: a config (sent as OK(NETWORK_CONFIG_REQUEST) in reply to a
// request, or pushed as NETWORK_CONFIG when requestPacketId is 0n), an error (OBJ_NOT_FOUND or
// NETWORK_ACCESS_DENIED), or a revocation (pushed in NETWORK_CREDENTIALS).
//
// The core implements the sender (chunking, signing with its identity, which is the controller's); the
// controller itself lives outside the core (service/controller/) and the core never imports it.
import { ErrorCode } from '../constants.js';
import type { Identity } from '../identity.js';

/** Why a controller refuses a request; the sender maps these to ERROR codes 0x03 and 0x07. */
export type NetworkControllerError = 'NOT_FOUND' | 'ACCESS_DENIED';

/** One NETWORK_CONFIG_REQUEST, as the node hands it to its controller. */
export interface NetworkConfigRequest {
  readonly networkId: bigint;
  /** The requesting node (authenticated by VL1). Its address is where answers go. */
  readonly requester: Identity;
  /** The request's metadata dictionary, raw bytes as sent (no terminating NUL). */
  readonly metadata: Uint8Array;
  /**
   * The request's packet ID as seen on the wire (the in-re ID of the answer). A node asking itself (a member
   * of its own network) passes LOCAL_REQUEST_PACKET_ID, as ZeroTier One does, or 0n; answers to itself are
   * delivered in-process by the sender whatever the ID. Every request() is a genuine request: pushes are
   * made up by the controller and reach the sender with requestPacketId 0n.
   */
  readonly packetId: bigint;
  /** Revision and timestamp of the config the requester holds (0n, 0n if none); informational. */
  readonly haveRevision?: bigint;
  readonly haveTimestamp?: bigint;
}

/** How a controller answers and pushes. Implemented by the node (or by an in-process member for self-joins). */
export interface NetworkControllerSender {
  /**
   * Sends a serialized network config dictionary to `destination`: as OK(NETWORK_CONFIG_REQUEST) naming
   * `requestPacketId`, or as a pushed NETWORK_CONFIG when `requestPacketId` is 0n. The sender cuts it into
   * chunks, each signed by this node, under one fresh update ID.
   */
  sendConfig(now: number, networkId: bigint, requestPacketId: bigint, destination: number, config: Uint8Array): void;
  /**
   * ERROR(NETWORK_CONFIG_REQUEST) with the network ID. With requestPacketId 0n (a push that found the member
   * unauthorized or gone) nothing goes on the wire; only an in-process member (the node itself) is told.
   */
  sendError(
    now: number,
    networkId: bigint,
    requestPacketId: bigint,
    destination: number,
    error: NetworkControllerError,
  ): void;
  /** A serialized revocation credential, pushed to `destination` in NETWORK_CREDENTIALS. */
  sendRevocation(now: number, destination: number, revocation: Uint8Array): void;
}

/** What the node calls. The controller answers through the sender given to `attach`. */
export interface NetworkController {
  /** Called once by the node before any request; the sender stays valid for the node's life. */
  attach(sender: NetworkControllerSender): void;
  /** A config request for a network whose controller is this node. Never throws; may answer later. */
  request(now: number, req: NetworkConfigRequest): void;
}

/** Packet ID of a request a node makes to its own controller (as ZeroTier One: all ones). */
export const LOCAL_REQUEST_PACKET_ID = 0xffffffffffffffffn;
/** Packet ID of a config the controller pushes on its own (NETWORK_CONFIG rather than OK). */
export const PUSH_PACKET_ID = 0n;

/** True if `networkId` is controlled by the node with `address` (the top 40 bits of the ID). */
export function isControllerOf(address: number, networkId: bigint): boolean {
  return Number(networkId >> 24n) === address;
}

/** Maps a controller error to the ERROR code it is sent as. */
export function controllerErrorCode(error: NetworkControllerError): number {
  return error === 'NOT_FOUND' ? ErrorCode.OBJ_NOT_FOUND : ErrorCode.NETWORK_ACCESS_DENIED;
}
