// zerotier-cli: talks to the local JSON API of a running service, with ZeroTier One's commands, output
// formats and exit codes (vectors/cli-api/cli-output.txt).
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAddress } from '../core/address.js';
import { VERSION_MAJOR, VERSION_MINOR, VERSION_REVISION } from '../core/constants.js';
import { parseWorldId } from '../core/world.js';
import { defaultHome } from '../daemon/home.js';
import { ApiClientError, apiCall } from './api-client.js';

const ZT_TEXT = `${VERSION_MAJOR}.${VERSION_MINOR}.${VERSION_REVISION}`;
const NETCON_TEXT = '0.1.0';

const USAGE = `zerotier-cli (netcon ${NETCON_TEXT}, ZeroTier ${ZT_TEXT}) — control a running zerotier-netcon-service
usage: zerotier-cli [-D<home>] [-p<port>] [-T<token>] [-j] [-v] [-h] <command> [args]
  -D<home>   the service's home folder (for its port and authtoken.secret)
  -p<port>   the service's port (default: from <home>/zerotier-one.port, else 9993)
  -T<token>  the API token (default: <home>/authtoken.secret)
  -j         JSON output
  -v         the ZeroTier version this node implements (${ZT_TEXT}), as zerotier-cli -v prints it
commands:
  info                     this node's address, version and status
  listpeers                peers, one per line
  peers                    peers as a table
  listnetworks             joined networks, one per line
  join <nwid>              join a network
  leave <nwid>             leave a network
  get <nwid> <property>    a network's property (ip, ip4, ip6, ip6plane, ip6prefix, or a JSON field)
  set <nwid> <setting>=<value>  allowManaged, allowGlobal, allowDefault or allowDNS (1/0, true/false)
  listmoons                moons orbited
  orbit <world id> <seed>  orbit a moon, fetched from the node <seed>
  deorbit <world id>       leave a moon
  dump                     status, networks, peers, local.conf and the host's interfaces into
                           ./zerotier_dump.txt (for a support request)
`;

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

interface Opts {
  version?: boolean;
  home: string;
  port?: number;
  token?: string;
  json: boolean;
  rest: string[];
}

class CliError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

function parse(argv: string[]): Opts {
  const o: Opts = { home: '', json: false, rest: [] };
  for (const a of argv) {
    if (o.rest.length > 0) o.rest.push(a);
    else if (a.startsWith('-D')) o.home = a.slice(2);
    else if (a.startsWith('-p')) {
      const n = Number(a.slice(2));
      if (!/^\d+$/.test(a.slice(2)) || n < 1 || n > 65535) throw new CliError(`bad port in ${a}`, true);
      o.port = n;
    } else if (a.startsWith('-T')) o.token = a.slice(2);
    else if (a === '-j') o.json = true;
    else if (a === '-v') o.version = true;
    else if (a === '-h' || a === '--help') throw new CliError('', true);
    else if (a.startsWith('-')) throw new CliError(`unknown option ${a}`, true);
    else o.rest.push(a);
  }
  o.home ||= defaultHome();
  return o;
}

async function call(
  o: Opts,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string }> {
  try {
    return await apiCall(o, method, path, body);
  } catch (e) {
    if (e instanceof ApiClientError) throw new CliError(e.message);
    throw e;
  }
}

/** JSON as ZeroTier One's CLI prints it (nlohmann dump(1): keys sorted, one-space indent), with a newline. */
const pretty = (v: unknown) => `${JSON.stringify(sortKeys(v), null, 1)}\n`;

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}

/** A non-200 answer, as ZeroTier One's CLI prints it: `<status> <command> <body>` on stdout, exit 1. */
class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly command: string,
    readonly text: string,
  ) {
    super(`${status} ${command} ${text}`);
  }
}

interface PeerJson {
  address: string;
  latency: number;
  role: string;
  version: string;
  versionMajor: number;
  versionMinor: number;
  versionRev: number;
  tunneled?: boolean;
  paths: { address: string; lastSend: number; lastReceive: number; active: boolean; preferred: boolean }[];
}

export async function run(argv: string[], io: CliIo, now: () => number = Date.now): Promise<number> {
  let o: Opts;
  try {
    o = parse(argv);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg) io.err(`zerotier-cli: ${msg}\n${USAGE}`);
    else io.out(USAGE);
    return msg ? 1 : 0;
  }
  if (o.version) {
    io.out(`${ZT_TEXT}\n`);
    return 0;
  }
  const [cmd, ...args] = o.rest;
  /** GET, failing as ZeroTier One's CLI does on any status but 200. */
  const get = async (path: string) => {
    const r = await call(o, 'GET', path);
    if (r.status !== 200) throw new HttpFailure(r.status, cmd!, r.text);
    return r;
  };
  try {
    switch (cmd) {
      case 'info': {
        need(args, 0);
        const { json } = await get('/status');
        const s = json as { address: string; version: string; online: boolean; tcpFallbackActive?: boolean };
        const state = s.tcpFallbackActive ? 'TUNNELED' : s.online ? 'ONLINE' : 'OFFLINE';
        io.out(o.json ? pretty(s) : `200 info ${s.address} ${s.version} ${state}\n`);
        return 0;
      }
      case 'listpeers':
      case 'peers': {
        need(args, 0);
        const { json } = await get('/peer');
        const peers = json as PeerJson[];
        if (o.json) io.out(pretty(peers));
        else if (cmd === 'listpeers') io.out(listpeers(peers, now()));
        else io.out(peerTable(peers, now()));
        return 0;
      }
      case 'listmoons': {
        need(args, 0);
        const { json } = await get('/moon');
        io.out(pretty(json)); // with or without -j, as ZeroTier One
        return 0;
      }
      case 'orbit': {
        need(args, 2);
        if (parseWorldId(args[0]!) === undefined) throw new CliError(`bad world ID ${args[0]}`);
        if (parseAddress(args[1]!) === undefined) throw new CliError(`bad seed address ${args[1]}`);
        const r = await call(o, 'POST', `/moon/${args[0]}`, { seed: args[1] });
        if (r.status !== 200) throw new HttpFailure(r.status, cmd, r.text);
        io.out('200 orbit OK\n'); // with or without -j, as ZeroTier One
        return 0;
      }
      case 'deorbit': {
        need(args, 1);
        if (parseWorldId(args[0]!) === undefined) throw new CliError(`bad world ID ${args[0]}`);
        const r = await call(o, 'DELETE', `/moon/${args[0]}`);
        if (r.status !== 200) throw new HttpFailure(r.status, cmd, r.text);
        io.out(o.json ? r.text : '200 deorbit OK\n');
        return 0;
      }
      case 'listnetworks': {
        need(args, 0);
        const r = await get('/network');
        io.out(o.json ? pretty(r.json) : listnetworks(r.json as NetworkJson[]));
        return 0;
      }
      case 'join':
      case 'leave': {
        need(args, 1);
        if (!NWID_RE.test(args[0]!)) {
          io.out('invalid network id\n'); // on stdout, as ZeroTier One
          return 2;
        }
        const r = await call(o, cmd === 'join' ? 'POST' : 'DELETE', `/network/${args[0]!.toLowerCase()}`, {});
        if (r.status !== 200) throw new HttpFailure(r.status, cmd, r.text);
        io.out(o.json ? r.text : `200 ${cmd} OK\n`); // -j: the answer as it came, as ZeroTier One
        return 0;
      }
      case 'get': {
        need(args, 2);
        if (!NWID_RE.test(args[0]!)) return badNetworkId(io, 'invalid format: must be a 16-digit (network) ID');
        const r = await get('/network');
        const n = (r.json as NetworkJson[]).find((x) => x.id === args[0]!.toLowerCase());
        if (!n) {
          io.err('unknown network ID, check that you are a member of the network\n');
          return 0;
        }
        const v = getProperty(n, args[1]!);
        // An unknown property is reported on stdout with exit 0, as ZeroTier One does.
        io.out(v === undefined ? 'error, unknown property name\n' : `${v}\n`);
        return 0;
      }
      case 'set': {
        need(args, 2);
        if (!NWID_RE.test(args[0]!)) return badNetworkId(io, 'invalid format: must be a 16-digit (network) ID');
        const m = /^(allowManaged|allowGlobal|allowDefault|allowDNS)=(.*)$/.exec(args[1]!);
        if (!m)
          throw new CliError(`unknown setting ${args[1]} (allowManaged, allowGlobal, allowDefault or allowDNS)`, true);
        const on = /^(t|1)/.test(m[2]!);
        const r = await call(o, 'POST', `/network/${args[0]!.toLowerCase()}`, { [m[1]!]: on });
        if (r.status !== 200) throw new HttpFailure(r.status, cmd, r.text);
        io.out(r.text); // the network's JSON as the service answered it, as ZeroTier One
        return 0;
      }
      case 'dump': {
        need(args, 0);
        const path = resolve('zerotier_dump.txt');
        const text = await dump(o, get);
        io.out(`Writing dump to: ${path}\n`);
        try {
          const fh = await open(path, 'w', 0o664);
          await fh.writeFile(text);
          await fh.close();
        } catch (e) {
          io.err(`Error creating file. ${(e as Error).message}\n`);
          return 1;
        }
        return 0;
      }
      case undefined:
        io.err(USAGE);
        return 1;
      default:
        io.err(`zerotier-cli: unknown command ${cmd}\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    if (e instanceof HttpFailure) {
      io.out(`${e.message}\n`);
      return 1;
    }
    if (e instanceof CliError) {
      io.err(e.usage ? `zerotier-cli: ${e.message}\n${USAGE}` : `${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/**
 * `dump`, as ZeroTier One 1.14.1 writes it on Linux: the platform and version, the raw answers of /status,
 * /network and /peer, local.conf, then the host's interfaces that have an IPv4 address (loopback skipped),
 * each with its MTU, MAC and addresses. netcon's networks have no kernel interface: they show in "networks"
 * (portDeviceName is the network's socket).
 */
async function dump(o: Opts, get: (path: string) => Promise<{ text: string }>): Promise<string> {
  let s = `platform: Linux\nzerotier version: ${ZT_TEXT}\n\n`;
  s += `status\n------\n${(await get('/status')).text}\n`;
  s += `\nnetworks\n--------\n${(await get('/network')).text}\n`;
  s += `\npeers\n-----\n${(await get('/peer')).text}\n`;
  let localConf = '';
  try {
    localConf = readFileSync(join(o.home, 'local.conf'), 'utf8');
  } catch {}
  s += `\nlocal.conf\n----------\n${localConf ? localConf : 'None Present'}\n`;
  s += '\nNetwork Interfaces\n------------------\n\n';
  let i = 0;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs || addrs.some((a) => a.internal) || !addrs.some((a) => a.family === 'IPv4')) continue;
    s += `Interface ${i++}\n-----------\nName: ${name}\n`;
    try {
      s += `MTU: ${Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8'))}\n`;
    } catch {}
    s += `MAC: ${addrs[0]!.mac}\nAddresses: \n`;
    for (const a of addrs) s += `${a.address}\n`;
  }
  return s;
}

const NWID_RE = /^[0-9a-fA-F]{16}$/;

interface NetworkJson {
  id: string;
  nwid: string;
  name: string;
  mac: string;
  status: string;
  type: string;
  portDeviceName: string;
  assignedAddresses: string[];
  [k: string]: unknown;
}

function badNetworkId(io: CliIo, msg: string): number {
  io.err(`${msg}\n`);
  return 2;
}

function listnetworks(nets: NetworkJson[]): string {
  let s = '200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\n';
  for (const n of nets) {
    const ips = n.assignedAddresses.length > 0 ? n.assignedAddresses.join(',') : '-';
    s += `200 listnetworks ${n.nwid} ${n.name} ${n.mac} ${n.status} ${n.type} ${n.portDeviceName} ${ips}\n`;
  }
  return s;
}

/** `get`: ip/ip4/ip6/ip6plane/ip6prefix from the assigned addresses, else a scalar top-level field. */
function getProperty(n: NetworkJson, prop: string): string | undefined {
  if (['ip', 'ip4', 'ip6', 'ip6plane', 'ip6prefix'].includes(prop)) {
    const bare = (a: string) => a.slice(0, a.indexOf('/') < 0 ? a.length : a.indexOf('/'));
    let list = n.assignedAddresses;
    if (prop === 'ip4') list = list.filter((a) => a.includes('.'));
    else if (prop.startsWith('ip6')) list = list.filter((a) => a.includes(':'));
    if (prop === 'ip6plane')
      return list
        .filter((a) => a.startsWith('fc'))
        .map(bare)
        .join('\n');
    if (prop === 'ip6prefix')
      return list
        .filter((a) => a.startsWith('fc'))
        .map((a) => bare(a).slice(0, 24))
        .join('\n');
    return list.map(bare).join('\n');
  }
  const v = n[prop];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(Math.trunc(v));
  if (typeof v === 'boolean') return v ? '1' : '0';
  return undefined;
}

function need(args: string[], n: number): void {
  if (args.length !== n) throw new CliError(`wrong number of arguments`, true);
}

/** Milliseconds since `t` (0: never), as ZeroTier One's CLI computes them. */
const age = (now: number, t: number) => (t ? now - t : -1);

const versionText = (p: PeerJson) =>
  p.versionMajor >= 0 ? `${p.versionMajor}.${p.versionMinor}.${p.versionRev}` : '-';

function listpeers(peers: PeerJson[], now: number): string {
  let s = '200 listpeers <ztaddr> <path> <latency> <version> <role>\n';
  for (const p of peers) {
    const best = p.paths.find((x) => x.preferred);
    const path = best ? `${best.address};${age(now, best.lastSend)};${age(now, best.lastReceive)}` : '-';
    s += `200 listpeers ${p.address} ${path} ${p.latency} ${versionText(p)} ${p.role}\n`;
  }
  return s;
}

function peerTable(peers: PeerJson[], now: number): string {
  let s = '200 peers\n<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>\n';
  let anyTunneled = false;
  for (const p of peers) {
    anyTunneled ||= p.tunneled === true;
    const best = p.paths.find((x) => x.preferred);
    let path = 'RELAY';
    if (best) {
      const cols = `${String(age(now, best.lastSend)).padEnd(8)} ${String(age(now, best.lastReceive)).padEnd(8)} ${best.address}`;
      path = p.tunneled ? `RELAY ${cols}` : `DIRECT   ${cols}`;
    }
    s += `${p.address} ${versionText(p).padEnd(6)} ${p.role.padEnd(6)} ${String(p.latency).padStart(5)} ${path}\n`;
  }
  if (anyTunneled) s += 'NOTE: Currently tunneling through a TCP relay. Ensure that UDP is not blocked.\n';
  return s;
}

export async function main(): Promise<void> {
  const code = await run(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  });
  process.exitCode = code;
}
