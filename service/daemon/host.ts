// zerotier-netcon-service --nodes <hostdir>: one process hosting many nodes (README "One service for many
// nodes"). The host folder holds
//
//   authtoken.secret   the host's API token (0600): GET /nodes, POST /nodes/<name>, DELETE /nodes/<name>
//   zerotier-one.port  the one port every node uses (UDP for the wire, TCP on loopback for the API)
//   zerotier-one.pid   the lock: one host process per folder
//   planet, moons.d/   inherited by every node whose own home has neither
//   <name>/            a node's home, exactly as a single service's (identity, authtoken.secret, networks.d,
//                      nc_<nwid> sockets, controller.d, peers.d ...), plus a zerotier-one.port naming the
//                      shared port, so `zerotier-cli -D<hostdir>/<name>` works as against a single service
//
// A node folder that appears is started, one that disappears is stopped (fs.watch, plus one rescan of the host
// folder every few seconds for what fs.watch misses). Every node is a Service (service.ts) attached to the
// host's SharedWire (shared-wire.ts: one UDP port, demultiplexed by destination address) and ApiListener (one
// TCP port, routed by token: a node's token reaches that node's routes only, the host's token the /nodes
// routes only, anything else 401).
import { type FSWatcher, watch } from 'node:fs';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { addressToString } from '../core/address.js';
import { networkIdToString, networkStatusName } from '../core/vl2/network-config.js';
import { ApiError, ApiListener, type ApiRequest, type ApiResponse, ApiServer } from './api.js';
import {
  AUTHTOKEN_FILE,
  DEFAULT_PORT,
  homeError,
  LOCAL_CONF_FILE,
  loadOrCreateAuthToken,
  lockHome,
  PID_FILE,
  PORT_FILE,
  readLocalConf,
  writePortFile,
} from './home.js';
import { type Logger, NETCON_VERSION, Service, ZEROTIER_VERSION } from './service.js';
import { SharedWire } from './shared-wire.js';
import { IDENTITY_SECRET_FILE, MOONS_DIR, PLANET_FILE, readMoons, readPlanet } from './state-files.js';

/** A node's folder name: also its name in the host API. */
export const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Entries of the host folder that are the host's own, not nodes. */
const HOST_ENTRIES = new Set([
  AUTHTOKEN_FILE,
  PORT_FILE,
  PID_FILE,
  PLANET_FILE,
  MOONS_DIR,
  LOCAL_CONF_FILE,
  'netcon.log',
]);

/** The periodic rescan of the host folder (for what fs.watch misses): one readdir for the whole host. */
const RESCAN_MS = 5000;
/**
 * Each host rescan also rescans the networks.d of this many nodes, in turn (a hosted node has no rescan timer
 * of its own: 1,000 nodes each reading its folder every 3 s cost 3-4 % of a core; fs.watch sees new files at
 * once anyway, this only catches what it misses: every node within RESCAN_MS * nodes / NETWORK_RESCANS).
 */
const NETWORK_RESCANS = 50;
/** Nodes started at once at host start (each reads a handful of files; more at once only queues on the disk). */
const START_CONCURRENCY = 16;

export interface HostOptions {
  dir: string;
  /** UDP and API port for every node; undefined = the host folder's local.conf primaryPort or 9993. */
  port?: number;
  log: Logger;
  clock?: () => number;
}

/** A hosted node as GET /nodes lists it. */
export interface HostedNodeInfo {
  name: string;
  home: string;
  address: string;
  online: boolean;
  networks: { id: string; status: string }[];
}

export class ServiceHost {
  private readonly running = new Map<string, Service>();
  private readonly starting = new Map<string, Promise<Service>>();
  /** Stopped through the API (DELETE /nodes/<name>): not restarted by a rescan until POST or the folder goes. */
  private readonly held = new Set<string>();
  /** Nodes whose start failed, with the reason last logged (logged again only when it changes). */
  private readonly failed = new Map<string, string>();
  /** Odd entries of the host folder, reported once. */
  private readonly oddReported = new Set<string>();
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanQueued = false;
  private rescanning: Promise<void> | undefined;
  /** Where the next networks.d rescans start, in the running nodes' order. */
  private networkRescanAt = 0;
  private stopped = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly wire: SharedWire,
    private readonly listener: ApiListener,
    private readonly api: ApiServer,
    private readonly unlock: () => Promise<void>,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  static async start(opts: HostOptions): Promise<ServiceHost> {
    const { dir, log } = opts;
    const clock = opts.clock ?? Date.now;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    } catch (e) {
      throw new Error(homeError(dir, e).message.replace('cannot use home folder', 'cannot use host folder'));
    }
    if (await exists(join(dir, IDENTITY_SECRET_FILE)))
      throw new Error(
        `${dir} holds ${IDENTITY_SECRET_FILE}: it is a node's home, not a host folder (--nodes wants the folder above the nodes' homes)`,
      );
    const unlock = await lockHome(dir);
    try {
      const conf = await readLocalConf(dir);
      for (const w of conf.warnings) log.warn(w);
      const token = await loadOrCreateAuthToken(dir);
      Service.guardFds(log);
      const wire = await SharedWire.open({ port: opts.port ?? conf.primaryPort ?? DEFAULT_PORT });
      const port = wire.port();
      const listener = new ApiListener((m) => log.warn(m));
      const api = new ApiServer(token, (m) => log.warn(m));
      const host = new ServiceHost(dir, port, wire, listener, api, unlock, log, clock);
      api.use((req) => host.route(req));
      api.attach(listener);
      try {
        await listener.listen(port);
        await writePortFile(dir, port);
      } catch (e) {
        wire.close();
        await listener.close();
        throw e;
      }
      await host.rescan(true);
      try {
        host.watcher = watch(dir, () => host.scheduleRescan());
        host.watcher.on('error', () => {});
      } catch (e) {
        log.warn(`cannot watch ${dir}: ${(e as Error).message}; rescanning every ${RESCAN_MS / 1000} s only`);
      }
      host.rescanTimer = setInterval(() => {
        host.scheduleRescan();
        host.rescanSomeNetworks();
      }, RESCAN_MS);
      host.rescanTimer.unref();
      log.info(
        `host ${dir} up on port ${port} with ${host.running.size} node(s) (netcon ${NETCON_VERSION.text}, ZeroTier ${ZEROTIER_VERSION.text})`,
      );
      return host;
    } catch (e) {
      await unlock();
      throw e;
    }
  }

  /** Starts the node `name` (its folder is created, and its identity, if absent). */
  async addNode(name: string): Promise<HostedNodeInfo> {
    checkName(name);
    this.held.delete(name);
    const service = await this.startNode(name);
    return this.info(name, service);
  }

  /** Stops the node `name` (its folder is kept; a rescan does not start it again until addNode). */
  async removeNode(name: string): Promise<void> {
    this.held.add(name);
    await this.stopNode(name);
  }

  /** The running nodes, by name. */
  nodes(): HostedNodeInfo[] {
    return [...this.running.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, s]) => this.info(name, s));
  }

  /** The running node `name`, if any (for tests and the bench). */
  node(name: string): Service | undefined {
    return this.running.get(name);
  }

  /** Counters of the shared wire and API. */
  stats() {
    return {
      nodes: this.running.size,
      starting: this.starting.size,
      failed: Object.fromEntries(this.failed),
      wire: { ...this.wire.stats, sendErrors: this.wire.sendErrors },
      api: { ...this.listener.gate.stats },
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.close();
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    await this.rescanning;
    await Promise.allSettled([...this.starting.values()]);
    await Promise.allSettled([...this.running.keys()].map((n) => this.stopNode(n)));
    await this.api.close();
    await this.listener.close();
    this.wire.close();
    await this.unlock();
    this.log.info('host stopped');
  }

  // ---- nodes ----------------------------------------------------------------------------------------------------

  private info(name: string, s: Service): HostedNodeInfo {
    const now = this.clock();
    return {
      name,
      home: s.home,
      address: addressToString(s.udp.node.address),
      online: s.udp.node.online(now),
      networks: (s.networks?.list() ?? []).map((j) => ({
        id: networkIdToString(j.net.id),
        status: networkStatusName(j.net.status),
      })),
    };
  }

  private startNode(name: string): Promise<Service> {
    const have = this.running.get(name);
    if (have) return Promise.resolve(have);
    const pending = this.starting.get(name);
    if (pending) return pending;
    const p = this.launch(name).finally(() => this.starting.delete(name));
    this.starting.set(name, p);
    return p;
  }

  private async launch(name: string): Promise<Service> {
    if (this.stopped) throw new Error('the host is stopping');
    const home = join(this.dir, name);
    const t0 = performance.now();
    const prefix = `[${name}] `;
    const log: Logger = {
      info: (m) => this.log.info(prefix + m),
      warn: (m) => this.log.warn(prefix + m),
      debug: (m) => this.log.debug(prefix + m),
    };
    // The host's planet and moons, read at each start: a node takes them only when its home has none.
    const planet = await readPlanet(this.dir).catch((e: Error) => {
      this.log.warn(e.message);
      return undefined;
    });
    const { moons } = await readMoons(this.dir).catch(() => ({ moons: [] }));
    let service: Service;
    try {
      service = await Service.start({
        home,
        log,
        clock: this.clock,
        hosted: { wire: this.wire, api: this.listener, planet, moons },
      });
    } catch (e) {
      const msg = (e as Error).message;
      if (this.failed.get(name) !== msg) this.log.warn(`${prefix}cannot start: ${msg}`);
      this.failed.set(name, msg);
      throw e;
    }
    this.failed.delete(name);
    if (this.stopped || this.held.has(name)) {
      await service.stop();
      throw new Error(`node ${name} was stopped while it started`);
    }
    this.running.set(name, service);
    const ms = performance.now() - t0;
    log.info(`node ${addressToString(service.udp.node.address)} up in ${ms.toFixed(0)} ms`);
    return service;
  }

  private async stopNode(name: string): Promise<void> {
    await this.starting.get(name)?.catch(() => undefined);
    const s = this.running.get(name);
    if (!s) return;
    this.running.delete(name);
    try {
      await s.stop();
    } catch (e) {
      this.log.warn(`[${name}] stopping: ${(e as Error).message}`);
    }
  }

  // ---- the host folder ------------------------------------------------------------------------------------------

  private scheduleRescan(): void {
    if (this.rescanQueued || this.stopped) return;
    this.rescanQueued = true;
    setTimeout(() => {
      this.rescanQueued = false;
      const prev = this.rescanning ?? Promise.resolve();
      this.rescanning = prev.then(() => this.rescan(false));
    }, 50).unref();
  }

  /** The networks.d rescan of the next NETWORK_RESCANS nodes (round robin). */
  private rescanSomeNetworks(): void {
    const all = [...this.running.values()];
    if (all.length === 0) return;
    const n = Math.min(NETWORK_RESCANS, all.length);
    for (let k = 0; k < n; k++) void all[(this.networkRescanAt + k) % all.length]!.networks?.rescan();
    this.networkRescanAt = (this.networkRescanAt + n) % all.length;
  }

  /** Starts the nodes whose folders are new and stops those whose folders are gone. */
  private async rescan(first: boolean): Promise<void> {
    if (this.stopped) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (e) {
      this.log.warn(`cannot read ${this.dir}: ${(e as Error).message}`);
      return;
    }
    const present = new Set<string>();
    for (const e of entries) {
      if (HOST_ENTRIES.has(e.name) || e.name.startsWith('.')) continue;
      if (!e.isDirectory() || !NODE_NAME_RE.test(e.name)) {
        if (!this.oddReported.has(e.name)) {
          this.oddReported.add(e.name);
          this.log.warn(
            `${join(this.dir, e.name)}: not a node folder (a folder named ${NODE_NAME_RE.source}); skipped`,
          );
        }
        continue;
      }
      present.add(e.name);
    }
    for (const name of this.held) if (!present.has(name)) this.held.delete(name);
    for (const name of this.failed.keys()) if (!present.has(name)) this.failed.delete(name);
    const gone = [...this.running.keys()].filter((n) => !present.has(n));
    for (const name of gone) {
      this.log.info(`[${name}] folder gone: stopping the node`);
      await this.stopNode(name);
    }
    const todo = [...present].filter((n) => !this.running.has(n) && !this.starting.has(n) && !this.held.has(n));
    if (todo.length === 0) return;
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !this.stopped) {
        const name = todo[next++]!;
        await this.startNode(name).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, todo.length) }, worker));
    if (first || todo.length > 1)
      this.log.info(`started ${todo.length} node(s) in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  // ---- API ------------------------------------------------------------------------------------------------------

  private async route(req: ApiRequest): Promise<ApiResponse | undefined> {
    const [head, name, ...rest] = req.segments;
    if (rest.length > 0) return undefined;
    if (head === 'unstable' && name === 'stats' && req.method === 'GET') return { status: 200, body: this.stats() };
    if (head !== 'nodes') return undefined;
    if (name === undefined) return req.method === 'GET' ? { status: 200, body: this.nodes() } : undefined;
    if (!NODE_NAME_RE.test(name) || HOST_ENTRIES.has(name))
      throw new ApiError(400, { error: `bad node name ${name}: a folder name matching ${NODE_NAME_RE.source}` });
    switch (req.method) {
      case 'GET': {
        const s = this.running.get(name);
        if (!s) throw new ApiError(404, { error: `no node ${name} is running` });
        return { status: 200, body: this.info(name, s) };
      }
      case 'POST':
      case 'PUT':
        try {
          return { status: 200, body: await this.addNode(name) };
        } catch (e) {
          throw new ApiError(500, { error: (e as Error).message });
        }
      case 'DELETE': {
        if (!this.running.has(name) && !this.starting.has(name))
          throw new ApiError(404, { error: `no node ${name} is running` });
        await this.removeNode(name);
        return { status: 200, body: { result: true } };
      }
      default:
        return undefined;
    }
  }
}

function checkName(name: string): void {
  if (!NODE_NAME_RE.test(name) || HOST_ENTRIES.has(name))
    throw new Error(`bad node name ${name}: a folder name matching ${NODE_NAME_RE.source}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
