// The embedded network controller (PROTOCOL-VL2.md §3.2, §4.3, §10): ZeroTier One's controller JSON API
// over records in <home>/controller.d, and the answers to NETWORK_CONFIG_REQUESTs for networks whose ID
// starts with this node's address. It implements the core's NetworkController interface; the node hands it
// requests and gives it a sender for configs, errors and revocations.
//
//   const { controller, errors } = await EmbeddedController.open({ home, identity });
//   new Vl2(node, { controller })   the node's VL2 handler attaches itself as the sender and calls request()
//   api.use(controller.route)       the /controller routes on the local API
//
// Requests and API edits are processed one at a time, in arrival order (a promise queue), so the records
// seen by a request are never half-updated. Pushes follow ZeroTier One: a changed member record goes to
// that member if it is online (a genuine request in the last 120 s) and has sent an authorized request; a
// changed network goes to every such member; a deauthorization (or deletion) sends a COM revocation to
// every online member of the network.
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { addressToString } from '../core/address.js';
import { formatIdentity, type Identity, tryParseIdentity } from '../core/identity.js';
import {
  type NetworkConfigRequest,
  type NetworkController,
  type NetworkControllerError,
  type NetworkControllerSender,
  PUSH_PACKET_ID,
} from '../core/vl2/controller-interface.js';
import { Dictionary, METADATA_DICT_CAPACITY } from '../core/vl2/dictionary.js';
import type { ApiRequest, ApiResponse } from '../daemon/api.js';
import type { StateFileError } from '../daemon/state-files.js';
import { ControllerApi } from './api-routes.js';
import { encodeConfig, makeRevocation } from './config-encode.js';
import { planConfig } from './config-plan.js';
import { FileDb } from './file-db.js';
import { isObject, type JsonObject, jsonBool, jsonString } from './json.js';
import { cleanMember, initMember, networkIdHex } from './records.js';

/** Requests from one member closer together than this are ignored. */
export const MIN_REQUEST_PERIOD = 1000;
/** A member is "online" for this long after its last genuine request (2 × the 60-s refresh). */
export const MEMBER_ONLINE_PERIOD = 120_000;
/** Past this many remembered (network, member) pairs, offline ones are forgotten. */
export const MAX_MEMBER_STATUS = 100_000;

export interface ControllerLogger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface ControllerOptions {
  /** The node's home folder; records live in <home>/controller.d. */
  home: string;
  /** The node's identity, with its private key: it signs every credential and config. */
  identity: Identity;
  /** Milliseconds since the epoch; Date.now by default (tests pass a fake clock). */
  clock?: () => number;
  log?: ControllerLogger;
}

interface MemberStatus {
  lastRequestTime: number;
  identity: Identity | undefined;
  /** Metadata of the last authorized genuine request; pushes reuse it. */
  metadata: Uint8Array | undefined;
}

const silent: ControllerLogger = { info() {}, warn() {}, debug() {} };

export class EmbeddedController implements NetworkController {
  readonly identity: Identity;
  readonly address: number;
  readonly db: FileDb;
  readonly clock: () => number;
  private readonly log: ControllerLogger;
  private sender: NetworkControllerSender | undefined;
  private readonly status = new Map<string, MemberStatus>();
  private queue: Promise<void> = Promise.resolve();
  private readonly api: ControllerApi;
  /** Requests answered, errors sent, pushes and revocations: for tests and logs. */
  readonly counters = { requests: 0, ignored: 0, configs: 0, pushes: 0, errors: 0, revocations: 0 };

  private constructor(db: FileDb, opts: ControllerOptions) {
    if (!opts.identity.hasPrivate) throw new Error('the controller needs an identity with its private key');
    this.db = db;
    this.identity = opts.identity;
    this.address = opts.identity.address;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.log ?? silent;
    this.api = new ControllerApi(this);
  }

  /** Opens <home>/controller.d (created 0700 if missing); files that do not parse are in `errors`. */
  static async open(opts: ControllerOptions): Promise<{ controller: EmbeddedController; errors: StateFileError[] }> {
    const { db, errors } = await FileDb.open(join(opts.home, 'controller.d'));
    const controller = new EmbeddedController(db, opts);
    for (const e of errors) controller.log.warn(`controller: ${e.message}`);
    return { controller, errors };
  }

  // ---- NetworkController ----------------------------------------------------------------------------------------

  attach(sender: NetworkControllerSender): void {
    this.sender = sender;
  }

  request(now: number, req: NetworkConfigRequest): void {
    if (Number(req.networkId >> 24n) !== this.address) return;
    // Every call is a genuine request (a node asking itself may pass 0n or all ones as the packet ID);
    // pushes are made up here, never received.
    const st = this.memberStatus(req.networkId, req.requester.address, now);
    if (now - st.lastRequestTime <= MIN_REQUEST_PERIOD) {
      this.counters.ignored++;
      return;
    }
    st.lastRequestTime = now;
    this.counters.requests++;
    void this.enqueue(() => this.handleRequest(now, req, false));
  }

  // ---- Local API -------------------------------------------------------------------------------------------------

  /** The /controller routes, for ApiServer.use (bound). */
  readonly route = (req: ApiRequest): Promise<ApiResponse | undefined> => this.api.handle(req);

  /** Runs `op` after everything queued before it (API edits and requests share one queue). */
  enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.then(
      () => undefined,
      (e) => this.log.warn(`controller: ${(e as Error).message}`),
    );
    return run;
  }

  /** Resolves when every queued request and edit is done and written. */
  async idle(): Promise<void> {
    for (;;) {
      const q = this.queue;
      await q;
      await this.db.flush();
      if (q === this.queue) return;
    }
  }

  /** Whether a member has made a genuine request recently. */
  isOnline(nwid: bigint, address: number, now: number): boolean {
    const st = this.status.get(statusKey(nwid, address));
    return st !== undefined && now - st.lastRequestTime < MEMBER_ONLINE_PERIOD;
  }

  /** A fresh random network ID under this controller (24-bit suffix, never 0), not in use. */
  freshNetworkId(): bigint | undefined {
    const prefix = BigInt(this.address) << 24n;
    for (let i = 0; i < 100000; i++) {
      let suffix = BigInt(randomInt(0, 0x1000000));
      if (suffix === 0n) suffix = 1n;
      const nwid = prefix | suffix;
      if (!this.db.hasNetwork(networkIdHex(nwid))) return nwid;
    }
    return undefined;
  }

  // ---- Change notifications (called by the API and the request path) ---------------------------------------------

  /** A member record was saved with a change (or deleted: `now` undefined). */
  memberChanged(nwid: bigint, address: number, old: JsonObject | undefined, now: JsonObject | undefined): void {
    const at = this.clock();
    const wasAuth = old !== undefined && jsonBool(old.authorized, false);
    const isAuth = now !== undefined && jsonBool(now.authorized, false);
    if (now !== undefined) this.pushTo(nwid, address, at);
    if (wasAuth && !isAuth) this.revoke(nwid, address, at);
    // Names on the network (the config's ncn key) are in every member's config: a change of a named member's
    // name, addresses or authorization goes to all of them (not only with a DNS domain set: cheap to skip).
    const net = this.db.getNetwork(networkIdHex(nwid));
    const domain = isObject(net?.dns) ? jsonString(net.dns.domain, '') : '';
    const named = (m: JsonObject | undefined) =>
      m && jsonBool(m.authorized, false) && jsonString(m.name, '') !== ''
        ? JSON.stringify([m.name, m.ipAssignments])
        : '';
    if (domain && named(old) !== named(now)) this.networkChanged(nwid);
  }

  /** A network record was saved with a change: push to every online member that has a config. */
  networkChanged(nwid: bigint): void {
    const at = this.clock();
    for (const [k, st] of this.status) {
      if (!k.startsWith(`${networkIdHex(nwid)}/`)) continue;
      if (at - st.lastRequestTime < MEMBER_ONLINE_PERIOD && st.metadata && st.identity)
        this.pushTo(nwid, st.identity.address, at);
    }
  }

  /** A network was deleted: every member of it is revoked. */
  networkDeleted(nwid: bigint, members: JsonObject[]): void {
    const at = this.clock();
    for (const m of members) {
      const a = Number.parseInt(String(m.id), 16);
      if (Number.isFinite(a)) this.revoke(nwid, a, at);
    }
  }

  // ---- Internals -------------------------------------------------------------------------------------------------

  private memberStatus(nwid: bigint, address: number, now?: number): MemberStatus {
    const k = statusKey(nwid, address);
    let st = this.status.get(k);
    if (!st) {
      if (now !== undefined && this.status.size >= MAX_MEMBER_STATUS) this.pruneStatus(now);
      st = { lastRequestTime: Number.NEGATIVE_INFINITY, identity: undefined, metadata: undefined };
      this.status.set(k, st);
    }
    return st;
  }

  /** Forgets members that are no longer online (their flood gate has long expired too). */
  private pruneStatus(now: number): void {
    for (const [k, st] of this.status) if (now - st.lastRequestTime >= MEMBER_ONLINE_PERIOD) this.status.delete(k);
  }

  private pushTo(nwid: bigint, address: number, now: number): void {
    const st = this.status.get(statusKey(nwid, address));
    if (!st || now - st.lastRequestTime >= MEMBER_ONLINE_PERIOD || !st.metadata || !st.identity) return;
    const req: NetworkConfigRequest = {
      networkId: nwid,
      requester: st.identity,
      metadata: st.metadata,
      packetId: PUSH_PACKET_ID,
    };
    void this.enqueue(() => this.handleRequest(this.clock(), req, true));
  }

  private revoke(nwid: bigint, target: number, now: number): void {
    if (!this.sender) return;
    const rev = makeRevocation(this.identity, nwid, target, now, randomBytes(4).readUInt32BE(0));
    const prefix = `${networkIdHex(nwid)}/`;
    for (const [k, st] of this.status) {
      if (!k.startsWith(prefix) || now - st.lastRequestTime >= MEMBER_ONLINE_PERIOD) continue;
      const dest = Number.parseInt(k.slice(prefix.length), 16);
      this.counters.revocations++;
      this.sender.sendRevocation(now, dest, rev);
    }
  }

  /**
   * An ERROR for a request. For a push (packet ID 0) the sender tells only an in-process member (the node
   * itself), as ZeroTier One's node does; a remote member learns at its next request.
   */
  private sendError(now: number, req: NetworkConfigRequest, push: boolean, error: NetworkControllerError): void {
    if (!this.sender) return;
    if (!push) this.counters.errors++;
    this.sender.sendError(now, req.networkId, push ? PUSH_PACKET_ID : req.packetId, req.requester.address, error);
  }

  /** One request (or, with `push`, a config the controller sends on its own: no ERRORs, no metadata kept). */
  private async handleRequest(now: number, req: NetworkConfigRequest, push: boolean): Promise<void> {
    const nwid = req.networkId;
    const nwidHex = networkIdHex(nwid);
    const address = req.requester.address;
    const addrHex = addressToString(address);
    const network = this.db.getNetwork(nwidHex);
    if (!network) {
      this.sendError(now, req, push, 'NOT_FOUND');
      return;
    }
    const stored = this.db.getMember(nwidHex, addrHex);
    const newMember = stored === undefined;
    const member = initMember(stored ?? {}, now);

    const known = typeof member.identity === 'string' ? member.identity : '';
    if (known.length > 0) {
      const id = tryParseIdentity(known);
      if (!id?.equals(req.requester)) {
        this.sendError(now, req, push, 'ACCESS_DENIED');
        return;
      }
    } else {
      member.identity = formatIdentity(req.requester, false);
    }
    member.id = addrHex;
    member.address = addrHex;
    member.nwid = nwidHex;

    const meta = Dictionary.from(req.metadata, METADATA_DICT_CAPACITY);
    let authorized = false;
    if (jsonBool(member.authorized, false)) {
      authorized = true;
    } else if (!jsonBool(network.private, true)) {
      authorized = true;
      this.autoAuthorize(member, now, 'public', null);
    } else {
      const presented = meta.getString('a', '');
      if (presented.length > 6 && presented.startsWith('token:')) {
        const token = presented.slice(6);
        const tokens = network.authTokens;
        const expires =
          tokens && typeof tokens === 'object' && !Array.isArray(tokens) && Object.hasOwn(tokens, token)
            ? tokens[token]
            : undefined;
        if (typeof expires === 'number' && (expires === 0 || expires > now)) {
          authorized = true;
          this.autoAuthorize(member, now, 'token', token);
        }
      }
    }

    if (!authorized) {
      const saved = await this.db.saveMember(cleanMember(member));
      this.sendError(now, req, push, 'ACCESS_DENIED');
      if (saved.changed) this.memberChanged(nwid, address, saved.old, saved.record);
      return;
    }

    if (!push) {
      member.vMajor = Number(meta.getU64('majv', 0n));
      member.vMinor = Number(meta.getU64('minv', 0n));
      member.vRev = Number(meta.getU64('revv', 0n));
      member.vProto = Number(meta.getU64('pv', 0n));
      const st = this.memberStatus(nwid, address);
      st.metadata = req.metadata.slice();
      st.identity = req.requester;
    }

    const allocated = { has: (ip: string) => this.db.isAllocated(nwidHex, ip) };
    const activeBridges = this.db.activeBridges(nwidHex).map((a) => Number.parseInt(a, 16));
    let config: Uint8Array;
    try {
      const plan = planConfig({
        network,
        member,
        newMember,
        networkId: nwid,
        address,
        now,
        rulesEngineRevision: meta.getU64('revr', 0n),
        allocated,
        activeBridges,
        random64: () => randomBytes(8).readBigUInt64BE(0),
        members: this.db.members(nwidHex) ?? [],
      });
      config = encodeConfig(plan, this.identity, req.requester);
    } catch (e) {
      // ZeroTier One answers an internal failure (e.g. signing) with OBJ_NOT_FOUND.
      this.log.warn(`controller: cannot build the config of ${nwidHex} for ${addrHex}: ${(e as Error).message}`);
      this.sendError(now, req, push, 'NOT_FOUND');
      return;
    }

    const saved = await this.db.saveMember(cleanMember(member));
    if (this.sender) {
      if (push) this.counters.pushes++;
      else this.counters.configs++;
      this.sender.sendConfig(now, nwid, push ? PUSH_PACKET_ID : req.packetId, address, config);
    }
    if (saved.changed) this.memberChanged(nwid, address, saved.old, saved.record);
  }

  private autoAuthorize(member: JsonObject, now: number, type: string, credential: string | null): void {
    member.authorized = true;
    member.lastAuthorizedTime = now;
    member.lastAuthorizedCredentialType = type;
    member.lastAuthorizedCredential = credential;
  }
}

function statusKey(nwid: bigint, address: number): string {
  return `${networkIdHex(nwid)}/${addressToString(address)}`;
}
