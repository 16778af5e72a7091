// zerotier-netcon-service: the node as a long-running process. It owns the home folder, the UDP sockets,
// the local API and the persisted state; the protocol lives in the pure core. A node either runs alone (its
// own UDP sockets and API listener, Service.start) or hosted with many others in one process (host.ts: it
// is given the host's shared wire and API listener instead, and inherits the host's planet and moons when
// its home has none).

import { FD_RESERVE, fdReserve, raiseFdLimit } from '../../netcon/fd-reserve.js';
import { addressToString, parseAddress } from '../core/address.js';
import { VERSION_MAJOR, VERSION_MINOR, VERSION_REVISION } from '../core/constants.js';
import { formatIdentity } from '../core/identity.js';
import { formatInetAddress } from '../core/inet-address.js';
import type { PeerInfo } from '../core/node.js';
import { Vl2 } from '../core/vl2/vl2.js';
import { parseWorldId, WORLD_TYPE_PLANET, type World, worldIdToHex } from '../core/world.js';
import { ApiError, type ApiListener, type ApiRequest, type ApiResponse, ApiServer } from './api.js';
import { type ControllerMount, mountController } from './controller-mount.js';
import { DEFAULT_PORT, loadOrCreateAuthToken, lockHome, prepareHome, readLocalConf, writePortFile } from './home.js';
import { Networks } from './networks.js';
import { PeerCacheWriter, readPeerCache } from './peer-files.js';
import type { SharedWire } from './shared-wire.js';
import { deleteMoon, loadOrCreateIdentity, readMoons, readPlanet, writeMoon, writePlanet } from './state-files.js';
import { UdpNode } from './udp-host.js';

/** netcon's own release (the npm package): in the usage texts and the log, never in the API. */
export const NETCON_VERSION = { major: 0, minor: 1, revision: 0, text: '0.1.0' };

/**
 * The ZeroTier version this node implements and says it is, everywhere: in HELLO (peers list it), in /status
 * (web UIs and `zerotier-cli info`), in its config requests (controllers record it). One version per node.
 */
export const ZEROTIER_VERSION = {
  major: VERSION_MAJOR,
  minor: VERSION_MINOR,
  revision: VERSION_REVISION,
  text: `${VERSION_MAJOR}.${VERSION_MINOR}.${VERSION_REVISION}`,
};

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface ServiceOptions {
  home: string;
  /** UDP and API port; undefined = local.conf's primaryPort or 9993. */
  port?: number;
  log: Logger;
  /** Milliseconds since the epoch for the node, the controller, the networks and the API (Date.now by default). */
  clock?: () => number;
  /** Hosted with other nodes in one process (host.ts): the shared wire and API instead of its own. */
  hosted?: HostedOptions;
}

export interface HostedOptions {
  wire: SharedWire;
  api: ApiListener;
  /** The host's planet and moons, for a node whose home has none of its own. */
  planet?: World | undefined;
  moons?: World[];
}

export class Service {
  /** The embedded network controller (controller.d, /controller API, config requests). */
  controller: ControllerMount | undefined;
  /** Joined networks (VL2 member side, a stack and an RPC socket each, networks.d, /network routes). */
  networks: Networks | undefined;
  /** The VL2 handler (member side and the controller's link). */
  vl2: Vl2 | undefined;

  private constructor(
    readonly home: string,
    readonly port: number,
    readonly udp: UdpNode,
    private readonly api: ApiServer,
    private readonly peerCache: PeerCacheWriter,
    private readonly unlock: () => Promise<void>,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  static async start(opts: ServiceOptions): Promise<Service> {
    const { home, log, hosted } = opts;
    if (!hosted) Service.guardFds(log);
    const clock = opts.clock ?? Date.now;
    await prepareHome(home);
    const unlock = await lockHome(home);
    try {
      const conf = await readLocalConf(home);
      for (const w of conf.warnings) log.warn(w);
      if (hosted && conf.primaryPort !== undefined)
        log.warn(`${home}/local.conf: settings.primaryPort has no effect on a hosted node (it uses the host's port)`);
      const port = hosted ? hosted.wire.port() : (opts.port ?? conf.primaryPort ?? DEFAULT_PORT);
      const { identity, created } = await loadOrCreateIdentity(home);
      if (created) log.info(`generated a new identity ${addressToString(identity.address)}`);
      let planet = await readPlanet(home);
      let { moons, errors } = await readMoons(home);
      for (const e of errors) log.warn(e.message);
      if (hosted && !planet && moons.length === 0) {
        planet = hosted.planet;
        moons = hosted.moons ?? [];
      }
      if (!planet && moons.length === 0)
        log.warn(`no planet or moon in ${home}: running with no roots (make one with zerotier-idtool genplanet)`);
      const token = await loadOrCreateAuthToken(home);
      if (hosted?.api.hasToken(token))
        throw new Error(`${home}/authtoken.secret is the same as another's on this host; each node needs its own`);
      const peerCache = new PeerCacheWriter(home, (m) => log.warn(m));
      const nodeOpts = { identity, planet, moons };
      const hooks = {
        worldUpdated: (w: World) => void Service.persistWorld(home, w, log),
        peerCached: peerCache.store.bind(peerCache),
        log: (level: 'info' | 'warn' | 'debug', msg: string) => log[level](msg),
      };
      const udp = hosted
        ? UdpNode.attach(nodeOpts, hooks, clock, (address, receive) => hosted.wire.attach(address, receive))
        : await UdpNode.start({ ...nodeOpts, port }, hooks, clock);
      const api = new ApiServer(token, (m) => log.warn(m));
      const service = new Service(home, udp.port(), udp, api, peerCache, unlock, log, clock);
      api.use((req) => service.route(req));
      try {
        service.controller = await mountController(home, identity, api, log, clock);
        const vl2 = new Vl2(udp.node, { controller: service.controller.controller, log: (l, m) => log[l](m) });
        service.vl2 = vl2;
        // Hosted: no timer of its own for the networks.d rescan; the host's one timer calls rescan() (host.ts).
        const rescanMs = hosted ? 0 : undefined;
        service.networks = new Networks({ home, vl2, kick: () => udp.kick(), log, clock, rescanMs });
        api.use(service.networks.route);
        await service.networks.start();
        await service.restorePeers();
        if (hosted) api.attach(hosted.api);
        else await api.listen(service.port);
      } catch (e) {
        await service.networks?.stop();
        await service.controller?.close();
        udp.close();
        throw e;
      }
      await writePortFile(home, service.port);
      if (!hosted)
        log.info(
          `node ${addressToString(identity.address)} up on port ${service.port}, home ${home} (netcon ${NETCON_VERSION.text}, ZeroTier ${ZEROTIER_VERSION.text})`,
        );
      return service;
    } catch (e) {
      await unlock();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await this.networks?.stop();
    await this.controller?.close();
    this.udp.node.cachePeers(this.clock());
    await this.peerCache.flush();
    this.udp.close();
    await this.api.close();
    await this.unlock();
    this.log.info('stopped');
  }

  /**
   * Raises the soft RLIMIT_NOFILE to the hard limit (through the addon: Node has no setrlimit, and calling
   * prlimit(1) on ourselves would need util-linux and a child process at every start) and logs, at most
   * every 10 s, when apps' sockets are refused for eating into the fds kept for the service (fd-reserve.ts).
   * Once per process: a single service calls it at start, a host (host.ts) once for all its nodes.
   */
  static guardFds(log: Logger): void {
    const { soft, hard } = raiseFdLimit();
    log.debug(`file descriptors: soft limit ${soft}, hard limit ${hard}, ${FD_RESERVE} kept for the service`);
    let last = Number.NEGATIVE_INFINITY;
    fdReserve.onRefused = (fd, limit) => {
      const now = performance.now();
      if (now - last < 10_000) return;
      last = now;
      log.warn(
        `out of file descriptors for apps: fd ${fd} is within ${FD_RESERVE} of the limit ${limit}; ` +
          `new sockets get EMFILE (${fdReserve.refused} refused so far)`,
      );
    };
  }

  /** peers.d: the peers we last had direct paths to are tried there again (as after a restart with roots down). */
  private async restorePeers(): Promise<void> {
    const { peers, errors } = await readPeerCache(this.home);
    for (const e of errors) this.log.warn(e);
    const n = this.udp.node.restorePeers(this.clock(), peers);
    if (n > 0) this.log.info(`peer cache: trying ${n} peer(s) at their last paths`);
    this.udp.kick();
  }

  private static async persistWorld(home: string, w: World, log: Logger): Promise<void> {
    try {
      if (w.type === WORLD_TYPE_PLANET) await writePlanet(home, w);
      else await writeMoon(home, w);
    } catch (e) {
      log.warn(`could not store world ${worldIdToHex(w.id)}: ${(e as Error).message}`);
    }
  }

  // ---- API ------------------------------------------------------------------------------------------------------

  private async route(req: ApiRequest): Promise<ApiResponse | undefined> {
    const [head, arg, ...rest] = req.segments;
    if (rest.length > 0) return undefined;
    const node = this.udp.node;
    const now = this.clock();
    switch (head) {
      case 'status':
        return arg === undefined && req.method === 'GET' ? { status: 200, body: this.status(now) } : undefined;
      case 'config':
        return arg === undefined ? { status: 200, body: { settings: this.settings() } } : undefined;
      case 'peer': {
        if (req.method !== 'GET') return undefined;
        const peers = node.peerInfo(now).map((p) => peerJson(p, now));
        if (arg === undefined) return { status: 200, body: peers };
        // As ZeroTier One: a 10-digit address this node has no peer for is 200 {}; anything else no route.
        if (!/^[0-9a-fA-F]{10}$/.test(arg)) return undefined;
        return { status: 200, body: peers.find((p) => p.address === arg.toLowerCase()) ?? {} };
      }
      case 'moon':
        return this.moonRoute(req, arg, now);
      case 'unstable':
        return arg === 'stats' && req.method === 'GET' ? { status: 200, body: this.stats() } : undefined;
      default:
        return undefined;
    }
  }

  /** Counters for operators: packets received by verb, drops by reason, and each network's stack. */
  private stats() {
    const node = this.udp.node;
    return {
      received: Object.fromEntries(node.received),
      drops: Object.fromEntries(node.drops),
      vl2Drops: Object.fromEntries(this.vl2?.drops ?? []),
      udpSendErrors: this.udp.sendErrors,
      api: { ...this.api.gate.stats },
      fdsRefusedToApps: fdReserve.refused,
      networks: (this.networks?.list() ?? []).map((j) => ({
        nwid: j.net.id.toString(16).padStart(16, '0'),
        drops: Object.fromEntries(j.net.drops),
        stack: j.stack.stats(),
      })),
    };
  }

  /** /moon as ZeroTier One answers it: held moons only; an unknown one is {}; orbit answers "waiting". */
  private async moonRoute(req: ApiRequest, arg: string | undefined, now: number): Promise<ApiResponse | undefined> {
    if (arg === undefined) return req.method === 'GET' ? { status: 200, body: this.moons() } : undefined;
    const id = parseWorldId(arg);
    if (id === undefined) throw new ApiError(400, { error: `bad moon id ${arg}` });
    const held = () => this.moons().find((x) => x.id === worldIdToHex(id));
    if (req.method === 'GET') return { status: 200, body: held() ?? {} };
    if (req.method === 'POST' || req.method === 'PUT') {
      const seedText = (req.body as { seed?: unknown } | undefined)?.seed;
      const seed = typeof seedText === 'string' ? parseAddress(seedText) : 0;
      if (seed === undefined) throw new ApiError(400, { error: `bad seed ${String(seedText)}` });
      const have = held();
      if (have) return { status: 200, body: have };
      if (!seed) return { status: 200, body: {} };
      this.udp.node.orbit(now, id, seed);
      this.udp.kick();
      const waiting = {
        id: worldIdToHex(id),
        roots: [],
        signature: null,
        timestamp: 0,
        updatesMustBeSignedBy: null,
        waiting: true,
      };
      return { status: 200, body: waiting };
    }
    if (req.method === 'DELETE') {
      this.udp.node.deorbit(id);
      await deleteMoon(this.home, id);
      return { status: 200, body: { result: true } };
    }
    return undefined;
  }

  private settings() {
    return {
      allowSecondaryPort: false,
      allowTcpFallbackRelay: false,
      forceTcpRelay: false,
      homeDir: this.home,
      listeningOn: [`0.0.0.0/${this.port}`, `::/${this.port}`],
      portMappingEnabled: false,
      primaryPort: this.port,
      secondaryPort: 0,
      softwareUpdate: 'disable',
      softwareUpdateChannel: 'release',
      surfaceAddresses: this.udp.node.externalAddresses().map(formatInetAddress),
      tcpFallbackRelay: '', // netcon has no TCP fallback relay
      tertiaryPort: 0,
    };
  }

  private status(now: number) {
    const node = this.udp.node;
    const planet = node.topology.planet;
    return {
      address: addressToString(node.address),
      clock: now,
      config: { settings: this.settings() },
      online: node.online(now),
      planetWorldId: planet ? Number(planet.id) : 0,
      planetWorldTimestamp: planet ? Number(planet.timestamp) : 0,
      publicIdentity: formatIdentity(node.identity, false),
      tcpFallbackActive: false,
      version: ZEROTIER_VERSION.text,
      versionBuild: 0,
      versionMajor: ZEROTIER_VERSION.major,
      versionMinor: ZEROTIER_VERSION.minor,
      versionRev: ZEROTIER_VERSION.revision,
    };
  }

  /** The moons this node holds (a moon being fetched is not listed until it arrives, as in ZeroTier One). */
  private moons() {
    const topo = this.udp.node.topology;
    return [...topo.moons.values()].map((m) => ({
      id: worldIdToHex(m.id),
      roots: m.roots.map((r) => ({
        identity: formatIdentity(r.identity, false),
        stableEndpoints: r.stableEndpoints.map(formatInetAddress),
      })),
      signature: Buffer.from(m.signature).toString('hex'),
      timestamp: Number(m.timestamp),
      updatesMustBeSignedBy: Buffer.from(m.updatesMustBeSignedBy).toString('hex'),
      waiting: false,
    }));
  }
}

function peerJson(p: PeerInfo, _now: number) {
  const known = p.versionMajor >= 0;
  return {
    address: addressToString(p.address),
    isBonded: false,
    latency: p.latency,
    paths: p.paths.map((x) => ({
      active: x.active,
      address: formatInetAddress(x.address),
      expired: x.expired,
      lastReceive: x.lastReceive,
      lastSend: x.lastSend,
      localPort: 0,
      localSocket: x.localSocket,
      preferred: x.preferred,
      trustedPathId: 0,
    })),
    role: p.role,
    tunneled: false,
    version: known ? `${p.versionMajor}.${p.versionMinor}.${p.versionRevision}` : '-1.-1.-1',
    versionMajor: p.versionMajor,
    versionMinor: p.versionMinor,
    versionRev: p.versionRevision,
  };
}
