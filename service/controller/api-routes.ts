// ZeroTier One's controller JSON API (PROTOCOL-VL2.md §10.1, §10.2) on the service's local API:
//
//   GET    /controller                                   {"controller":true,"apiVersion":4,"clock":…,"databaseReady":true}
//   GET    /controller/network                           ["<nwid>", …] sorted
//   POST   /controller/network                           create under this controller (random ID)
//   POST   /controller/network/<our address>______      the same (400 if the address is not ours)
//   GET    /controller/network/<nwid>                    network object (404 empty if absent)
//   POST   /controller/network/<nwid>                    update, or create if absent
//   DELETE /controller/network/<nwid>                    the deleted object; members revoked
//   GET    /controller/network/<nwid>/member             {"<address>": revision, …}
//   GET    /controller/network/<nwid>/member/<address>   member object
//   POST   /controller/network/<nwid>/member/<address>   create or update (404 if the network is absent)
//   DELETE /controller/network/<nwid>/member/<address>   the deleted member
//   GET    /unstable/controller/network[/<nwid>/member]  objects with counts
//
// PUT is accepted wherever POST is. Bodies are compact JSON with sorted keys; "not found" is 404 with an
// empty body, as ZeroTier One answers.
import { addressToString } from '../core/address.js';
import type { ApiRequest, ApiResponse } from '../daemon/api.js';
import type { FileDb } from './file-db.js';
import { dumpCompact, type Json, type JsonObject, jsonBool, jsonInt } from './json.js';
import { applyMemberPost, applyNetworkPost, BodyError, networkIdHex } from './records.js';
import { FieldError } from './validate.js';

export const CONTROLLER_API_VERSION = 4;

const NWID_RE = /^[0-9a-fA-F]{16}$/;
const ADDRESS_RE = /^[0-9a-fA-F]{10}$/;
const CREATE_RE = /^([0-9a-fA-F]{10})______$/;

function json(v: Json, status = 200): ApiResponse {
  return { status, body: v, text: dumpCompact(v) };
}

function empty(status: number): ApiResponse {
  return { status, body: {}, text: '' };
}

function bodyError(e: BodyError): ApiResponse {
  return json({ description: e.message, error: 500 }, 500);
}

/** What the API needs of the controller (EmbeddedController implements it). */
export interface ControllerApiHost {
  readonly db: FileDb;
  readonly address: number;
  clock(): number;
  enqueue<T>(op: () => Promise<T>): Promise<T>;
  freshNetworkId(): bigint | undefined;
  networkChanged(nwid: bigint): void;
  networkDeleted(nwid: bigint, members: JsonObject[]): void;
  memberChanged(nwid: bigint, address: number, old: JsonObject | undefined, now: JsonObject | undefined): void;
}

export class ControllerApi {
  constructor(private readonly c: ControllerApiHost) {}

  async handle(req: ApiRequest): Promise<ApiResponse | undefined> {
    const s = req.segments;
    if (s[0] === 'unstable' && s[1] === 'controller') return this.unstable(req, s.slice(2));
    if (s[0] !== 'controller') return undefined;
    const method = req.method === 'PUT' ? 'POST' : req.method;
    if (s.length === 1) return method === 'GET' ? this.controllerInfo() : undefined;
    if (s[1] !== 'network') return undefined;
    try {
      if (s.length === 2) {
        if (method === 'GET') return json(this.c.db.networkIds());
        if (method === 'POST') return await this.create(req.body);
        return undefined;
      }
      const id = s[2]!;
      const m = CREATE_RE.exec(id);
      if (m && s.length === 3) {
        if (method !== 'POST') return undefined;
        if (m[1] !== addressToString(this.c.address)) return empty(400);
        return await this.create(req.body);
      }
      if (!NWID_RE.test(id)) return undefined;
      const nwid = BigInt(`0x${id}`);
      if (s.length === 3) return await this.network(method, nwid, req.body);
      if (s[3] !== 'member') return undefined;
      if (s.length === 4) return method === 'GET' ? this.memberList(nwid) : undefined;
      if (s.length === 5 && ADDRESS_RE.test(s[4]!)) return await this.member(method, nwid, s[4]!, req.body);
      return undefined;
    } catch (e) {
      if (e instanceof BodyError) return bodyError(e);
      if (e instanceof FieldError) return json({ description: e.message, error: 400, field: e.field }, 400);
      throw e;
    }
  }

  private controllerInfo(): ApiResponse {
    const text = `{\n\t"controller": true,\n\t"apiVersion": ${CONTROLLER_API_VERSION},\n\t"clock": ${this.c.clock()},\n\t"databaseReady": true\n}\n`;
    return {
      status: 200,
      body: { controller: true, apiVersion: CONTROLLER_API_VERSION, clock: this.c.clock(), databaseReady: true },
      text,
    };
  }

  private create(body: unknown): Promise<ApiResponse> {
    return this.c.enqueue(async () => {
      const nwid = this.c.freshNetworkId();
      if (nwid === undefined) return empty(503);
      return this.postNetwork(nwid, body);
    });
  }

  private async postNetwork(nwid: bigint, body: unknown): Promise<ApiResponse> {
    const hex = networkIdHex(nwid);
    const record = applyNetworkPost(this.c.db.getNetwork(hex), nwid, body, this.c.clock());
    const saved = await this.c.db.saveNetwork(record);
    if (saved.changed && saved.old) this.c.networkChanged(nwid);
    return json(saved.record);
  }

  private network(method: string, nwid: bigint, body: unknown): Promise<ApiResponse | undefined> | undefined {
    const hex = networkIdHex(nwid);
    if (method === 'GET') {
      const n = this.c.db.getNetwork(hex);
      return Promise.resolve(n ? json(n) : empty(404));
    }
    if (method === 'POST') return this.c.enqueue(() => this.postNetwork(nwid, body));
    if (method === 'DELETE')
      return this.c.enqueue(async () => {
        const gone = await this.c.db.eraseNetwork(hex);
        if (!gone) return empty(404);
        this.c.networkDeleted(nwid, gone.members);
        return json(gone.record);
      });
    return undefined;
  }

  private memberList(nwid: bigint): ApiResponse {
    const members = this.c.db.members(networkIdHex(nwid));
    if (!members) return empty(404);
    const out: JsonObject = {};
    for (const m of members) {
      const id = typeof m.id === 'string' ? m.id : '';
      if (id.length === 10) out[id] = jsonInt(m.revision, 0);
    }
    return json(out);
  }

  private member(
    method: string,
    nwid: bigint,
    id: string,
    body: unknown,
  ): Promise<ApiResponse | undefined> | undefined {
    const hex = networkIdHex(nwid);
    // Records are keyed by the lowercase address; ZeroTier One stores the path's spelling verbatim.
    const key = id.toLowerCase();
    const address = Number.parseInt(key, 16);
    if (method === 'GET') {
      if (!this.c.db.hasNetwork(hex)) return Promise.resolve(empty(404));
      const m = this.c.db.getMember(hex, key);
      return Promise.resolve(m ? json(m) : empty(404));
    }
    if (method === 'POST')
      return this.c.enqueue(async () => {
        if (!this.c.db.hasNetwork(hex)) return empty(404);
        const record = applyMemberPost(this.c.db.getMember(hex, key), nwid, key, body, this.c.clock());
        const saved = await this.c.db.saveMember(record);
        if (saved.changed) this.c.memberChanged(nwid, address, saved.old, saved.record);
        return json(saved.record);
      });
    if (method === 'DELETE')
      return this.c.enqueue(async () => {
        const gone = await this.c.db.eraseMember(hex, key);
        if (!gone) return empty(404);
        this.c.memberChanged(nwid, address, gone, undefined);
        return json(gone);
      });
    return undefined;
  }

  private unstable(req: ApiRequest, s: string[]): ApiResponse | undefined {
    if (req.method !== 'GET' || s[0] !== 'network') return undefined;
    if (s.length === 1) {
      const data: Json[] = [];
      for (const id of this.c.db.networkIds()) {
        const n = this.c.db.getNetwork(id)!;
        const members = this.c.db.members(id) ?? [];
        n.meta = {
          authorizedMemberCount: members.filter((m) => jsonBool(m.authorized, false)).length,
          totalMemberCount: members.length,
        };
        data.push(n);
      }
      return json({ data, meta: { networkCount: data.length } });
    }
    if (s.length === 3 && NWID_RE.test(s[1]!) && s[2] === 'member') {
      const members = this.c.db.members(s[1]!.toLowerCase());
      if (!members) return empty(404);
      return json({
        data: members,
        meta: {
          authorizedCount: members.filter((m) => jsonBool(m.authorized, false)).length,
          totalCount: members.length,
        },
      });
    }
    return undefined;
  }
}
