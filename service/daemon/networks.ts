// Joined networks in the service: per network a netcon Stack (lwIP) fed by VL2 and the netcon RPC server at
// <home>/nc_<nwid>; networks.d/<nwid>.conf (the config dictionary, or "\n" before the first config) and
// <nwid>.local.conf (allowManaged …); auto-join of every networks.d/<16 hex>.conf at start and when one is
// added while running; the /network routes of the local API.
import { chmodSync, existsSync, type FSWatcher, mkdirSync, watch } from 'node:fs';
import { lstat, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseIp } from '../../common/ip-text.js';
import { type NameAddr, type NameSource, Resolver } from '../../netcon/names.js';
import { RpcServer } from '../../netcon/server.js';
import { Stack } from '../../netcon/stack.js';
import type { IpAssignment, StackConfig, Route as StackRoute } from '../../netcon/stack-types.js';
import { formatInetAddress, formatInetIp, type InetAddress, type IpPrefix, prefixOf } from '../core/inet-address.js';
import { macToBytes, macToString } from '../core/vl2/mac.js';
import type { Network, Tap } from '../core/vl2/network.js';
import {
  DEFAULT_MTU,
  NetworkStatus,
  networkIdToString,
  networkStatusName,
  networkTypeName,
  parseNetworkId,
} from '../core/vl2/network-config.js';
import type { Vl2 } from '../core/vl2/vl2.js';
import { ApiError, type ApiRequest, type ApiResponse } from './api.js';
import { managedAllowed } from './managed.js';
import { atomicWriteFile } from './state-files.js';

export const NETWORKS_DIR = 'networks.d';

export interface LocalSettings {
  allowManaged: boolean;
  allowGlobal: boolean;
  allowDefault: boolean;
  allowDNS: boolean;
}

const DEFAULT_SETTINGS: LocalSettings = {
  allowManaged: true,
  allowGlobal: false,
  allowDefault: false,
  allowDNS: false,
};

/** The network part of a prefix (host bits cleared). */
function masked(p: IpPrefix): IpPrefix {
  const ip = p.ip.slice();
  for (let i = 0; i < ip.length; i++) {
    const keep = Math.max(0, Math.min(8, p.bits - i * 8));
    ip[i] = ip[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: p.family, ip, bits: p.bits };
}

/**
 * Whether a network has stopped being usable: the controller denied this member or knows no such network. Its
 * addresses and routes are dropped then (listnetworks shows none, the stack stops answering on them) until
 * a config comes again. (ZeroTier One keeps listing the old ones; a container should not keep using them.)
 */
export function networkFailed(net: Network): boolean {
  const s = net.status;
  return (
    s === NetworkStatus.ACCESS_DENIED ||
    s === NetworkStatus.NOT_FOUND ||
    s === NetworkStatus.AUTHENTICATION_REQUIRED ||
    s === NetworkStatus.CLIENT_TOO_OLD
  );
}

/**
 * The stack configuration a network's config implies under the member's settings, as ZeroTier One applies
 * them to a tap (OneService syncManagedStuff): managed addresses and routes only with allowManaged, global
 * ones only with allowGlobal, a default route only with allowDefault (then every destination is the
 * network's, and fall-through never applies); a route via one of our own addresses is skipped, as is a route
 * of a family we have no address in.
 */
export function stackConfigOf(net: Network, settings: LocalSettings = DEFAULT_SETTINGS): StackConfig {
  const c = networkFailed(net) ? undefined : net.config;
  const addresses: IpAssignment[] = [];
  const routes: StackRoute[] = [];
  if (c) {
    const mine = c.staticIps.filter((a) => managedAllowed(settings, a)).map(prefixOf);
    for (const a of mine) {
      addresses.push({ address: formatInetIp(a), prefix: a.bits });
      // The stack treats only an address's /64 as on-link; a 6plane /40 needs its own on-link route.
      if (a.family === 6 && a.bits < 64) routes.push({ target: formatInetIp(masked(a)), prefix: a.bits });
    }
    for (const r of c.routes) {
      if (!managedAllowed(settings, r.target)) continue;
      const target = prefixOf(r.target);
      if (!mine.some((a) => a.family === target.family)) continue;
      const via = r.via && r.via.family === target.family ? r.via : undefined;
      if (via && c.staticIps.some((a) => a.family === via.family && formatInetIp(a) === formatInetIp(via))) continue;
      routes.push({
        target: formatInetIp(target),
        prefix: target.bits,
        ...(via ? { via: formatInetIp(via) } : {}),
      });
    }
  }
  return { mac: macToBytes(net.mac), mtu: net.config?.mtu ?? DEFAULT_MTU, addresses, routes };
}

/**
 * The network's own names for the resolver (README "Names on the network"): members named on the controller
 * as <name>.<domain> with their managed addresses (the config's names, from a netcon controller), and the
 * network's DNS servers when allowDNS=1. Nothing while the network is not OK.
 */
export function networkNames(j: { net: Network; settings: LocalSettings }): NameSource {
  const usable = () => (networkFailed(j.net) ? undefined : j.net.config);
  const domain = () => (usable()?.dns.domain ?? '').toLowerCase().replace(/\.$/, '');
  const addrOf = (a: InetAddress): NameAddr => ({ family: a.family, address: formatInetIp(a) });
  return {
    domain,
    lookupName(fqdn) {
      const c = usable();
      const d = domain();
      if (!c?.names || !d || !fqdn.endsWith(`.${d}`)) return undefined;
      const label = fqdn.slice(0, -d.length - 1);
      const m = c.names.find((x) => x.name === label);
      return m ? m.ips.map(addrOf) : undefined;
    },
    lookupAddress(a) {
      const c = usable();
      const d = domain();
      if (!c?.names || !d) return undefined;
      const want = parseIp(a.address);
      if (!want) return undefined;
      const m = c.names.find((x) =>
        x.ips.some((ip) => ip.family === want.family && ip.ip.every((v, i) => v === want.bytes[i])),
      );
      return m ? `${m.name}.${d}` : undefined;
    },
    servers() {
      const c = usable();
      return c && j.settings.allowDNS ? c.dns.servers.map(addrOf) : [];
    },
  };
}

/** A stack as a VL2 tap: frames delivered in batches (one stack.input per event-loop turn). */
export class StackTap implements Tap {
  private batch: Uint8Array[] = [];
  private queued = false;
  onConfig?: (net: Network, dictionary: Uint8Array) => void;
  onStatus?: (net: Network) => void;

  constructor(readonly stack: Stack) {}

  deliverFrame(dst: number, src: number, etherType: number, payload: Uint8Array): boolean {
    // Straight into the stack's input buffer, unless frames wait here (their order comes first).
    return this.batch.length === 0 && this.stack.enqueueFrame(dst, src, etherType, payload);
  }

  deliver(frames: Uint8Array[]): void {
    for (const f of frames) this.batch.push(f);
    if (this.queued) return;
    this.queued = true;
    // After the current poll phase: frames of every datagram read in this loop turn go in as one batch.
    setImmediate(() => {
      this.queued = false;
      const b = this.batch;
      this.batch = [];
      if (!this.stack.closed) this.stack.input(b);
    });
  }

  configChanged(net: Network, dictionary: Uint8Array): void {
    this.onConfig?.(net, dictionary);
  }

  statusChanged(net: Network): void {
    this.onStatus?.(net);
  }
}

interface Joined {
  net: Network;
  stack: Stack;
  tap: StackTap;
  server: RpcServer | undefined;
  settings: LocalSettings;
  socketPath: string;
  /** The stack config last applied (JSON), so that a refresh changing nothing costs no call into the stack. */
  applied?: string;
  /** The config last written to networks.d: its revision, stack config and when. */
  saved?: { revision: number; applied: string; at: number };
}

/**
 * A member's config comes again every minute (NETWORK_AUTOCONF_DELAY), new in its timestamp only: it is
 * written to networks.d when its revision or what it gives the stack changed, else at most this often (a host
 * of 1,000 nodes wrote and fsynced 17 files a second). The cached copy is only read at start, and a fresh one
 * is asked for on the first tick then.
 */
export const CONFIG_SAVE_MIN_MS = 10 * 60_000;

export interface NetworksLogger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface NetworksOptions {
  home: string;
  vl2: Vl2;
  clock?: () => number;
  /** Run the node's timers now (after a join). */
  kick?: () => void;
  log: NetworksLogger;
  /** Serve the RPC socket (false in tests that only need the stacks). */
  rpc?: boolean;
  /**
   * The periodic rescan of networks.d for what fs.watch misses (ms). Default: on the process's one pacer,
   * every 60 s with a watch, 3 s without. 0: none, the owner calls rescan() itself (host.ts).
   */
  rescanMs?: number;
}

/** With a working watch on networks.d, the folder is also read this often (for events the kernel dropped). */
export const RESCAN_WATCHED_MS = 60_000;
/** Without one (no inotify, out of watches), this often. */
export const RESCAN_UNWATCHED_MS = 3_000;
/** Folders read per turn of the pacer at most: a thousand nodes started together do not read in one burst. */
const RESCANS_PER_TURN = 64;
/** The pacer's turns are at least this far apart. */
const PACER_MIN_GAP_MS = 250;

/**
 * The periodic rescans of every Networks in the process, on one timer: a service hosting 1,000 nodes would
 * otherwise run 1,000 intervals (333 folder reads a second at 3 s each). The timer sleeps until the next
 * folder is due, and is unref'd (it never keeps the process alive).
 */
class RescanPacer {
  private readonly due = new Map<Networks, { at: number; period: number }>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  add(n: Networks, period: number): void {
    // The first read lands somewhere in the period, so nodes started together spread out.
    this.due.set(n, { at: performance.now() + period * (0.5 + Math.random() * 0.5), period });
    this.arm();
  }

  delete(n: Networks): void {
    this.due.delete(n);
    if (this.due.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
    }
  }

  /** Timers the pacer holds now (0 or 1), for tests. */
  get timers(): number {
    return this.timer ? 1 : 0;
  }

  private arm(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const d of this.due.values()) if (d.at < next) next = d.at;
    if (next === Number.POSITIVE_INFINITY) return;
    const now = performance.now();
    next = Math.max(next, now + PACER_MIN_GAP_MS);
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.turn(), next - now);
    this.timer.unref();
  }

  private turn(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let n = 0;
    for (const [net, d] of this.due) {
      if (d.at > now) continue;
      if (++n > RESCANS_PER_TURN) break;
      d.at = now + d.period;
      void net.rescan();
    }
    this.arm();
  }
}

/** The process's one pacer (exported for tests: `rescanPacer.timers`). */
export const rescanPacer = new RescanPacer();

export class Networks {
  private readonly joined = new Map<bigint, Joined>();
  private readonly joining = new Map<bigint, Promise<Joined>>();
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private scanAgain = false;
  private readonly dir: string;
  private readonly clock: () => number;
  private stopped = false;
  /** Names of odd networks.d entries already reported. */
  private readonly oddReported = new Set<string>();

  constructor(private readonly opts: NetworksOptions) {
    this.dir = join(opts.home, NETWORKS_DIR);
    this.clock = opts.clock ?? Date.now;
  }

  /** Joins every networks.d/<nwid>.conf and watches the folder for new ones. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await this.rescan();
    let watched = false;
    try {
      // Our own writes (temp files renamed over the <nwid>.conf of joined networks, .local.conf) need no rescan.
      this.watcher = watch(this.dir, (_event, name) => {
        if (name && this.ownWrite(String(name))) return;
        this.scheduleRescan(50);
      });
      this.watcher.on('error', () => {});
      watched = true;
    } catch (e) {
      this.opts.log.warn(`cannot watch ${this.dir}: ${(e as Error).message}`);
    }
    // fs.watch can miss events (and some file systems have none): the folder is read again now and then too,
    // on one timer for every node of the process (rescanPacer).
    const every = this.opts.rescanMs ?? (watched ? RESCAN_WATCHED_MS : RESCAN_UNWATCHED_MS);
    if (!this.stopped && every > 0) rescanPacer.add(this, every);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    rescanPacer.delete(this);
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    for (const j of this.joined.values()) this.teardown(j);
    this.joined.clear();
  }

  /** Whether a networks.d entry named in a watch event is one of our own writes (nothing new to join). */
  private ownWrite(name: string): boolean {
    if (name.startsWith('.') && name.endsWith('.tmp')) return true;
    const m = /^([0-9a-fA-F]{16})(\.local)?\.conf$/.exec(name);
    return m !== null && this.joined.has(parseNetworkId(m[1]!)!);
  }

  /** A watch event: one rescan soon (events come in bursts: one timer for the burst). */
  private scheduleRescan(ms: number): void {
    if (this.rescanTimer || this.stopped) return;
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = undefined;
      void this.rescan();
    }, ms);
    this.rescanTimer.unref();
  }

  /** Reads networks.d and joins what is new; one read at a time (a request during one runs once after it). */
  rescan(): Promise<void> {
    if (this.scanning) {
      this.scanAgain = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.scanAgain = false;
        await this.scanOnce();
      } while (this.scanAgain && !this.stopped);
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    if (this.stopped) return;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = /^([0-9a-fA-F]{16})\.conf$/.exec(n);
      if (!m) {
        if (!n.startsWith('.') && !/^[0-9a-fA-F]{16}\.local\.conf$/.test(n))
          this.reportOdd(n, 'not named <network ID>.conf');
        continue;
      }
      const nwid = parseNetworkId(m[1]!)!;
      if (this.joined.has(nwid)) continue;
      const kind = await lstat(join(this.dir, n)).catch(() => undefined);
      if (!kind) continue;
      if (kind.isSymbolicLink()) {
        this.reportOdd(n, 'a symbolic link');
        continue;
      }
      if (!kind.isFile()) {
        this.reportOdd(n, 'not a regular file');
        continue;
      }
      if (this.stopped) return;
      try {
        await this.join(nwid, false);
      } catch (e) {
        // Logged and retried in a few seconds; a failure here must not take the service down.
        this.opts.log.warn(`cannot join ${networkIdToString(nwid)} from ${n}: ${(e as Error).message}`);
        this.scheduleRescan(RESCAN_UNWATCHED_MS);
      }
    }
  }

  /** An entry of networks.d that is not a network: logged once and skipped. */
  private reportOdd(name: string, why: string): void {
    if (this.oddReported.has(name)) return;
    this.oddReported.add(name);
    this.opts.log.warn(`${join(this.dir, name)}: ${why}; skipped`);
  }

  list(): Joined[] {
    return [...this.joined.values()].sort((a, b) => (a.net.id < b.net.id ? -1 : 1));
  }

  get(nwid: bigint): Joined | undefined {
    return this.joined.get(nwid);
  }

  private confPath(nwid: bigint): string {
    return join(this.dir, `${networkIdToString(nwid)}.conf`);
  }

  private localConfPath(nwid: bigint): string {
    return join(this.dir, `${networkIdToString(nwid)}.local.conf`);
  }

  /** Joins (idempotent). `write`: create networks.d/<nwid>.conf ("\n") if absent. */
  join(nwid: bigint, write = true): Promise<Joined> {
    const have = this.joined.get(nwid);
    if (have) return Promise.resolve(have);
    let p = this.joining.get(nwid);
    if (!p) {
      p = this.doJoin(nwid, write).finally(() => this.joining.delete(nwid));
      this.joining.set(nwid, p);
    }
    return p;
  }

  private async doJoin(nwid: bigint, write: boolean): Promise<Joined> {
    let cached: Uint8Array | undefined;
    try {
      cached = new Uint8Array(await readFile(this.confPath(nwid)));
    } catch {
      cached = undefined;
    }
    if (!cached && write) await atomicWriteFile(this.confPath(nwid), '\n', 0o600);
    const settings = await this.readSettings(nwid);
    const now = this.clock();
    const vl2 = this.opts.vl2;
    const net = vl2.join(now, nwid, undefined, cached);
    const stack = new Stack(stackConfigOf(net, settings));
    const tap = new StackTap(stack);
    // Views into the stack's memory, valid during the call: VL2 encodes each frame before it returns (and
    // copies what it has to keep, e.g. multicast waiting for a gather).
    stack.onOutputBorrowed = (frames) => {
      const t = this.clock();
      for (const f of frames) vl2.sendFrame(t, nwid, f);
    };
    const socketPath = join(this.opts.home, `nc_${networkIdToString(nwid)}`);
    const j: Joined = { net, stack, tap, server: undefined, settings, socketPath };
    tap.onConfig = (n, dict) => {
      this.reconfigure(j);
      const revision = n.config?.revision ?? 0;
      const now = this.clock();
      const s = j.saved;
      if (s && s.revision === revision && s.applied === j.applied && now - s.at < CONFIG_SAVE_MIN_MS) return;
      j.saved = { revision, applied: j.applied ?? '', at: now };
      void this.persist(n.id, dict);
    };
    tap.onStatus = (n) => {
      this.opts.log.info(`network ${networkIdToString(n.id)}: ${networkStatusName(n.status)}`);
      this.reconfigure(j); // a network that stopped being OK drops its addresses (and gets them back with a config)
    };
    net.tap = tap;
    this.joined.set(nwid, j);
    if (this.opts.rpc !== false) {
      try {
        const server = new RpcServer(socketPath, stack, new Resolver(stack, networkNames(j)));
        server.onWarn = (m) => this.opts.log.warn(m);
        server.start();
        chmodSync(socketPath, 0o600);
        j.server = server;
      } catch (e) {
        net.portError = -1;
        this.opts.log.warn(`network ${networkIdToString(nwid)}: ${(e as Error).message}`);
      }
    }
    this.opts.log.info(`joined network ${networkIdToString(nwid)} (socket ${socketPath})`);
    this.opts.kick?.();
    return j;
  }

  private reconfigure(j: Joined): void {
    if (j.stack.closed) return; // left or stopped: a late config or status change has nothing to apply to
    try {
      const c = stackConfigOf(j.net, j.settings);
      const text = JSON.stringify({ ...c, mac: [...c.mac] });
      if (text !== j.applied) {
        j.stack.setConfig(c);
        j.applied = text;
      }
      j.net.portError = 0;
    } catch (e) {
      j.net.portError = -1;
      this.opts.log.warn(`network ${networkIdToString(j.net.id)}: stack config refused: ${(e as Error).message}`);
    }
  }

  private async persist(nwid: bigint, dict: Uint8Array): Promise<void> {
    if (!this.joined.has(nwid)) return;
    try {
      await atomicWriteFile(this.confPath(nwid), dict, 0o600);
    } catch (e) {
      this.opts.log.warn(`cannot save ${this.confPath(nwid)}: ${(e as Error).message}`);
    }
  }

  async leave(nwid: bigint): Promise<boolean> {
    await this.joining.get(nwid)?.catch(() => undefined);
    // Files first, so a rescan running meanwhile does not join again.
    for (const p of [this.confPath(nwid), this.localConfPath(nwid)]) await unlink(p).catch(() => {});
    const j = this.joined.get(nwid);
    this.joined.delete(nwid);
    this.opts.vl2.leave(nwid);
    if (j) this.teardown(j);
    if (j) this.opts.log.info(`left network ${networkIdToString(nwid)}`);
    return j !== undefined;
  }

  private teardown(j: Joined): void {
    try {
      j.server?.close();
    } catch {}
    if (existsSync(j.socketPath)) void unlink(j.socketPath).catch(() => {});
    try {
      j.stack.close();
    } catch {}
  }

  private async readSettings(nwid: bigint): Promise<LocalSettings> {
    const s = { ...DEFAULT_SETTINGS };
    try {
      const text = await readFile(this.localConfPath(nwid), 'utf8');
      for (const line of text.split('\n')) {
        const m = /^(allowManaged|allowGlobal|allowDefault|allowDNS)=(.*)$/.exec(line.trim());
        if (m) s[m[1] as keyof LocalSettings] = /^(1|t|T)/.test(m[2]!);
      }
    } catch {}
    return s;
  }

  private async writeSettings(nwid: bigint, s: LocalSettings): Promise<void> {
    const b = (v: boolean) => (v ? '1' : '0');
    await atomicWriteFile(
      this.localConfPath(nwid),
      `allowManaged=${b(s.allowManaged)}\nallowGlobal=${b(s.allowGlobal)}\nallowDefault=${b(s.allowDefault)}\nallowDNS=${b(s.allowDNS)}\n`,
      0o600,
    );
  }

  /** Applies allowManaged … from an API body; returns whether anything changed. */
  async applySettings(nwid: bigint, body: unknown): Promise<void> {
    const j = this.joined.get(nwid);
    if (!j || typeof body !== 'object' || body === null) return;
    const b = body as Record<string, unknown>;
    let changed = false;
    for (const k of ['allowManaged', 'allowGlobal', 'allowDefault', 'allowDNS'] as const) {
      if (!(k in b)) continue;
      const v = b[k];
      const val = typeof v === 'string' ? /^(1|t|T)/.test(v) : Boolean(v);
      if (j.settings[k] !== val) {
        j.settings[k] = val;
        changed = true;
      }
    }
    if (changed) {
      await this.writeSettings(nwid, j.settings);
      this.reconfigure(j);
    }
  }

  // ---- JSON (member-side /network API, PROTOCOL-VL2.md §10.7) ------------------------------------------------

  json(j: Joined): Record<string, unknown> {
    const n = j.net;
    const c = n.config;
    const failed = networkFailed(n);
    const id = networkIdToString(n.id);
    return {
      allowDNS: j.settings.allowDNS,
      allowDefault: j.settings.allowDefault,
      allowGlobal: j.settings.allowGlobal,
      allowManaged: j.settings.allowManaged,
      assignedAddresses: failed ? [] : (c?.staticIps ?? []).map(formatInetAddress),
      bridge: n.bridge,
      broadcastEnabled: n.broadcastEnabled,
      dhcp: false,
      dns: { domain: c?.dns.domain ?? '', servers: (c?.dns.servers ?? []).map(formatInetIp) },
      id,
      mac: macToString(n.mac),
      mtu: c?.mtu ?? DEFAULT_MTU,
      multicastSubscriptions: n.multicastGroups.map((g) => ({ adi: g.adi, mac: macToString(g.mac) })),
      name: c?.name ?? '',
      netconfRevision: c?.revision ?? 0,
      nwid: id,
      portDeviceName: j.socketPath,
      portError: n.portError,
      routes: (failed ? [] : (c?.routes ?? [])).map((r) => ({
        flags: r.flags,
        metric: r.metric,
        target: formatInetAddress(r.target),
        via: r.via ? formatInetIp(r.via) : null,
      })),
      status: networkStatusName(n.status),
      type: networkTypeName(c?.type ?? 0),
    };
  }

  /** /network and /network/<nwid>. */
  readonly route = async (req: ApiRequest): Promise<ApiResponse | undefined> => {
    const [head, arg, ...rest] = req.segments;
    if (head !== 'network' || rest.length > 0) return undefined;
    if (arg === undefined) {
      if (req.method !== 'GET') return undefined;
      return { status: 200, body: this.list().map((j) => this.json(j)) };
    }
    const nwid = parseNetworkId(arg);
    if (nwid === undefined) throw new ApiError(400, { error: `bad network ID ${arg}` });
    switch (req.method) {
      case 'GET': {
        const j = this.joined.get(nwid);
        if (!j) throw new ApiError(404, {});
        return { status: 200, body: this.json(j) };
      }
      case 'POST':
      case 'PUT': {
        const j = await this.join(nwid);
        await this.applySettings(nwid, req.body);
        return { status: 200, body: this.json(j) };
      }
      case 'DELETE': {
        const had = await this.leave(nwid);
        return { status: 200, body: had ? { result: true } : {} };
      }
      default:
        return undefined;
    }
  };
}
