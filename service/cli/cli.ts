// zerotier-cli: talks to the local JSON API of a running service, with ZeroTier One's commands, output
// formats and exit codes (vectors/cli-api/cli-output.txt).
import { parseAddress } from '../core/address.js';
import { parseWorldId } from '../core/world.js';
import { defaultHome } from '../daemon/home.js';
import { ApiClientError, apiCall } from './api-client.js';

const USAGE = `zerotier-cli (netcon) — control a running zerotier-netcon-service
usage: zerotier-cli [-D<home>] [-p<port>] [-T<token>] [-j] [-h] <command> [args]
  -D<home>   the service's home folder (for its port and authtoken.secret)
  -p<port>   the service's port (default: from <home>/zerotier-one.port, else 9993)
  -T<token>  the API token (default: <home>/authtoken.secret)
  -j         JSON output
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
`;

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

interface Opts {
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
    else if (a === '-h' || a === '--help') throw new CliError('', true);
    else if (a.startsWith('-')) throw new CliError(`unknown option ${a}`, true);
    else o.rest.push(a);
  }
  o.home ||= defaultHome();
  return o;
}

async function call(o: Opts, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  try {
    return await apiCall(o, method, path, body);
  } catch (e) {
    if (e instanceof ApiClientError) throw new CliError(e.message);
    throw e;
  }
}

const pretty = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;

interface PeerJson {
  address: string;
  latency: number;
  role: string;
  version: string;
  paths: { address: string; lastSend: number; lastReceive: number; active: boolean; preferred: boolean }[];
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let o: Opts;
  try {
    o = parse(argv);
  } catch (e) {
    const msg = (e as Error).message;
    io.err(msg ? `zerotier-cli: ${msg}\n${USAGE}` : USAGE);
    return msg ? 1 : 0;
  }
  const [cmd, ...args] = o.rest;
  try {
    switch (cmd) {
      case 'info': {
        need(args, 0);
        const { json } = await call(o, 'GET', '/status');
        const s = json as { address: string; version: string; online: boolean };
        io.out(o.json ? pretty(s) : `200 info ${s.address} ${s.version} ${s.online ? 'ONLINE' : 'OFFLINE'}\n`);
        return 0;
      }
      case 'listpeers':
      case 'peers': {
        need(args, 0);
        const { json } = await call(o, 'GET', '/peer');
        const peers = json as PeerJson[];
        if (o.json) io.out(pretty(peers));
        else if (cmd === 'listpeers') io.out(listpeers(peers));
        else io.out(peerTable(peers, Date.now()));
        return 0;
      }
      case 'listmoons': {
        need(args, 0);
        const { json } = await call(o, 'GET', '/moon');
        io.out(pretty(json));
        return 0;
      }
      case 'orbit': {
        need(args, 2);
        if (parseWorldId(args[0]!) === undefined) throw new CliError(`bad world ID ${args[0]}`);
        if (parseAddress(args[1]!) === undefined) throw new CliError(`bad seed address ${args[1]}`);
        const r = await call(o, 'POST', `/moon/${args[0]}`, { seed: args[1] });
        if (r.status !== 200) throw new CliError(`${r.status} ${JSON.stringify(r.json)}`);
        io.out(o.json ? pretty(r.json) : '200 orbit OK\n');
        return 0;
      }
      case 'deorbit': {
        need(args, 1);
        if (parseWorldId(args[0]!) === undefined) throw new CliError(`bad world ID ${args[0]}`);
        const r = await call(o, 'DELETE', `/moon/${args[0]}`);
        if (r.status !== 200) throw new CliError(`${r.status} ${JSON.stringify(r.json)}`);
        io.out(o.json ? pretty(r.json) : '200 deorbit OK\n');
        return 0;
      }
      case 'listnetworks': {
        need(args, 0);
        const r = await call(o, 'GET', '/network');
        if (r.status !== 200) throw new CliError(`${r.status} listnetworks ${JSON.stringify(r.json)}`);
        io.out(o.json ? pretty(r.json) : listnetworks(r.json as NetworkJson[]));
        return 0;
      }
      case 'join':
      case 'leave': {
        need(args, 1);
        if (!NWID_RE.test(args[0]!)) return badNetworkId(io, 'invalid network id');
        const r = await call(o, cmd === 'join' ? 'POST' : 'DELETE', `/network/${args[0]!.toLowerCase()}`, {});
        if (r.status !== 200) throw new CliError(`${r.status} ${cmd} ${JSON.stringify(r.json)}`);
        io.out(o.json ? pretty(r.json) : `200 ${cmd} OK\n`);
        return 0;
      }
      case 'get': {
        need(args, 2);
        if (!NWID_RE.test(args[0]!)) return badNetworkId(io, 'invalid format: must be a 16-digit (network) ID');
        const r = await call(o, 'GET', '/network');
        if (r.status !== 200) throw new CliError(`${r.status} get ${JSON.stringify(r.json)}`);
        const n = (r.json as NetworkJson[]).find((x) => x.id === args[0]!.toLowerCase());
        if (!n) {
          io.err('unknown network ID, check that you are a member of the network\n');
          return 0;
        }
        const v = getProperty(n, args[1]!);
        if (v === undefined) {
          io.out('error, unknown property name\n');
          return 1;
        }
        io.out(`${v}\n`);
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
        if (r.status !== 200) throw new CliError(`${r.status} set ${JSON.stringify(r.json)}`);
        io.out(pretty(r.json));
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
    if (e instanceof CliError) {
      io.err(e.usage ? `zerotier-cli: ${e.message}\n${USAGE}` : `${e.message}\n`);
      return 1;
    }
    throw e;
  }
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

function listpeers(peers: PeerJson[]): string {
  let s = '200 listpeers <ztaddr> <path> <latency> <version> <role>\n';
  for (const p of peers) {
    const paths = p.paths.filter((x) => x.active).map((x) => `${x.address};${x.lastSend};${x.lastReceive}`);
    s += `200 listpeers ${p.address} ${paths.length ? paths.join(',') : '-'} ${p.latency} ${p.version === '-1.-1.-1' ? '-' : p.version} ${p.role}\n`;
  }
  return s;
}

function peerTable(peers: PeerJson[], now: number): string {
  let s = '200 peers\n<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>\n';
  for (const p of peers) {
    const best = p.paths.find((x) => x.preferred) ?? p.paths.find((x) => x.active);
    const ver = p.version === '-1.-1.-1' ? '-' : p.version;
    const link = best ? 'DIRECT' : 'RELAY';
    const tx = best ? String(now - best.lastSend) : '-1';
    const rx = best ? String(now - best.lastReceive) : '-1';
    s += `${p.address} ${ver.padEnd(6)} ${p.role.padEnd(6)} ${String(p.latency).padStart(5)} ${link.padEnd(8)} ${tx.padEnd(8)} ${rx.padEnd(8)} ${best?.address ?? ''}\n`;
  }
  return s;
}

export async function main(): Promise<void> {
  const code = await run(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  });
  process.exitCode = code;
}
