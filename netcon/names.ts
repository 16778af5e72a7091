// Name resolution for intercepted programs (RPC ops RESOLVE, REVERSE, QUERY; intercept/RPC.md "Names"),
// without the host's resolver. Sources, in order:
//   1. /etc/hosts as the program reads it (/proc/<pid>/root/etc/hosts: its own mount namespace), else ours;
//   2. the network's own names (NameSource: members named on the controller, as <name>.<domain>, and back);
//   3. the network's DNS servers (NameSource.servers(): only with allowDNS=1), asked over UDP port 53 from the
//      network's own stack, never through the host;
//   4. the host's resolver, only when the program allows fall-through (the answer is then "use the host");
// otherwise the name is unknown (ENOENT), at once. A bare name (no dot) is tried under the network's domain
// first, as a search domain. ENODATA: the name exists without an address of the family asked for;
// EAGAIN: the network's servers did not answer.
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { formatIp, parseIp } from '../common/ip-text.js';
import type { NetBackend } from './backend.js';
import {
  buildAnswer,
  buildQuery,
  type DnsRecord,
  DnsType,
  parseMessage,
  parseReverseName,
  Rcode,
  reverseName,
} from './dns-wire.js';
import type { UdpSocket } from './stack-types.js';

export interface NameAddr {
  family: 4 | 6;
  address: string;
}

/** What the network itself knows about names (the ZeroTier side fills it in). */
export interface NameSource {
  /** `fqdn` (lower case, no trailing dot) → its addresses, or undefined when it is not a name of the network. */
  lookupName(fqdn: string): NameAddr[] | undefined;
  /** The network's name of an address, or undefined. */
  lookupAddress(a: NameAddr): string | undefined;
  /** The network's DNS domain ('' when none): bare names are tried under it. */
  domain(): string;
  /** The DNS servers to ask: the network's, only with allowDNS=1; else none. */
  servers(): NameAddr[];
}

/** A network with no names of its own and no DNS servers: only /etc/hosts (and fall-through) answer. */
export const NO_NAMES: NameSource = {
  lookupName: () => undefined,
  lookupAddress: () => undefined,
  domain: () => '',
  servers: () => [],
};

export type Answer<T> = { kind: 'found'; value: T } | { kind: 'host' } | { kind: 'error'; errno: number };

const ENOENT = 2;
const EAGAIN = 11;
const ENODATA = 61;

export interface ResolverOptions {
  /** Per attempt, per server (default 1500 ms); two attempts. */
  timeoutMs?: number;
  /** The hosts file a process reads (default /proc/<pid>/root/etc/hosts, then /etc/hosts). */
  hostsFiles?: (pid: number) => string[];
}

interface HostsLine {
  addr: NameAddr;
  names: string[];
}

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');

function parseHosts(text: string): HostsLine[] {
  const out: HostsLine[] = [];
  for (const raw of text.split('\n')) {
    const f = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (f.length < 2) continue;
    const ip = parseIp(f[0]!.replace(/%.*$/, ''));
    if (!ip) continue;
    out.push({ addr: { family: ip.family, address: formatIp(ip.family, ip.bytes) }, names: f.slice(1).map(norm) });
  }
  return out;
}

const sameAddr = (a: NameAddr, b: NameAddr) => {
  const x = parseIp(a.address);
  const y = parseIp(b.address);
  return !!x && !!y && x.family === y.family && x.bytes.every((v, i) => v === y.bytes[i]);
};

export class Resolver {
  readonly stats = { resolve: 0, reverse: 0, query: 0, dnsQueries: 0, dnsTimeouts: 0 };
  private readonly timeoutMs: number;
  private readonly hostsFiles: (pid: number) => string[];

  constructor(
    private readonly backend: NetBackend,
    private readonly source: NameSource,
    opts: ResolverOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 1500;
    this.hostsFiles = opts.hostsFiles ?? ((pid) => [`/proc/${pid}/root/etc/hosts`, '/etc/hosts']);
  }

  private async hosts(pid: number): Promise<HostsLine[]> {
    for (const f of this.hostsFiles(pid)) {
      try {
        return parseHosts(await readFile(f, 'utf8'));
      } catch {}
    }
    return [];
  }

  /** The names to try for `name`: under the network's domain first when it has no dot. */
  private candidates(name: string): string[] {
    const d = norm(this.source.domain());
    return !name.includes('.') && d ? [`${name}.${d}`, name] : [name];
  }

  async resolve(
    nameIn: string,
    family: 0 | 4 | 6,
    pid: number,
    fallthrough: boolean,
  ): Promise<Answer<{ canon: string; addrs: NameAddr[] }>> {
    this.stats.resolve++;
    const name = norm(nameIn);
    const want = (a: NameAddr) => family === 0 || a.family === family;
    if (!name || name.length > 253) return { kind: 'error', errno: ENOENT };
    const lines = (await this.hosts(pid)).filter((l) => l.names.includes(name));
    const fromHosts = lines.map((l) => l.addr).filter(want);
    if (fromHosts.length > 0) return { kind: 'found', value: { canon: lines[0]!.names[0]!, addrs: fromHosts } };
    const names = this.candidates(name);
    for (const n of names) {
      const own = this.source.lookupName(n);
      if (!own) continue;
      const addrs = own.filter(want);
      return addrs.length > 0 ? { kind: 'found', value: { canon: n, addrs } } : { kind: 'error', errno: ENODATA };
    }
    const servers = this.source.servers();
    if (servers.length > 0) {
      let timedOut = false;
      for (const n of names) {
        const types = family === 4 ? [DnsType.A] : family === 6 ? [DnsType.AAAA] : [DnsType.A, DnsType.AAAA];
        const replies = await Promise.all(types.map((t) => this.ask(servers, n, t)));
        if (replies.some((r) => r === undefined)) timedOut = true;
        const got = replies.filter((r) => r !== undefined);
        if (got.length > 0 && got.every((r) => r!.rcode === Rcode.NXDOMAIN)) continue;
        const addrs: NameAddr[] = [];
        let canon = n;
        for (const r of got)
          for (const rec of r!.answers) {
            if (rec.type === DnsType.CNAME && rec.target) canon = norm(rec.target);
            if (rec.data) {
              const f = rec.type === DnsType.A ? 4 : 6;
              addrs.push({ family: f, address: formatIp(f, rec.data) });
            }
          }
        if (addrs.length > 0) return { kind: 'found', value: { canon, addrs } };
        if (got.length > 0 && got.every((r) => r!.rcode === Rcode.NOERROR)) return { kind: 'error', errno: ENODATA };
      }
      if (timedOut && !fallthrough) return { kind: 'error', errno: EAGAIN };
    }
    if (fallthrough) return { kind: 'host' };
    return { kind: 'error', errno: ENOENT };
  }

  async reverse(a: NameAddr, pid: number, fallthrough: boolean): Promise<Answer<string>> {
    this.stats.reverse++;
    const line = (await this.hosts(pid)).find((l) => sameAddr(l.addr, a));
    if (line) return { kind: 'found', value: line.names[0]! };
    const own = this.source.lookupAddress(a);
    if (own) return { kind: 'found', value: own };
    const servers = this.source.servers();
    if (servers.length > 0) {
      const ip = parseIp(a.address);
      const r = ip ? await this.ask(servers, reverseName(ip.family, ip.bytes), DnsType.PTR) : undefined;
      const ptr = r?.answers.find((x) => x.type === DnsType.PTR && x.target);
      if (ptr?.target) return { kind: 'found', value: norm(ptr.target) };
      if (!r && !fallthrough) return { kind: 'error', errno: EAGAIN };
    }
    if (fallthrough) return { kind: 'host' };
    return { kind: 'error', errno: ENOENT };
  }

  /**
   * A DNS query as res_query() sends it: answered here for the names above (A, AAAA, ANY and PTR), else by
   * the network's servers (their answer as it came), else the host's resolver (fall-through), else NXDOMAIN.
   */
  async query(q: Uint8Array, pid: number, fallthrough: boolean): Promise<Answer<Uint8Array>> {
    this.stats.query++;
    const m = parseMessage(q);
    if (!m?.question) return { kind: 'error', errno: 22 };
    const { name, type } = m.question;
    const made = (records: DnsRecord[], rcode?: number) => {
      const b = buildAnswer(q, records, rcode);
      return b ? ({ kind: 'found', value: b } as const) : ({ kind: 'error', errno: 22 } as const);
    };
    if (type === DnsType.PTR) {
      const addr = parseReverseName(name);
      if (addr) {
        const local = await this.localReverse({ family: addr.family, address: formatIp(addr.family, addr.bytes) }, pid);
        if (local) return made([{ name, type: DnsType.PTR, ttl: 60, target: local }]);
      }
    } else if (type === DnsType.A || type === DnsType.AAAA || type === DnsType.ANY) {
      const local = await this.localForward(norm(name), pid);
      if (local) {
        const recs = local
          .filter((a) => type === DnsType.ANY || (a.family === 4) === (type === DnsType.A))
          .map((a) => ({
            name,
            type: a.family === 4 ? DnsType.A : DnsType.AAAA,
            ttl: 60,
            data: parseIp(a.address)!.bytes,
          }));
        return made(recs);
      }
    }
    const servers = this.source.servers();
    if (servers.length > 0) {
      const r = await this.exchangeAny(servers, q);
      if (r) return { kind: 'found', value: r };
      if (!fallthrough) return { kind: 'error', errno: EAGAIN };
    }
    if (fallthrough) return { kind: 'host' };
    return made([], Rcode.NXDOMAIN);
  }

  private async localForward(name: string, pid: number): Promise<NameAddr[] | undefined> {
    const lines = (await this.hosts(pid)).filter((l) => l.names.includes(name));
    if (lines.length > 0) return lines.map((l) => l.addr);
    return this.source.lookupName(name);
  }

  private async localReverse(a: NameAddr, pid: number): Promise<string | undefined> {
    return (await this.hosts(pid)).find((l) => sameAddr(l.addr, a))?.names[0] ?? this.source.lookupAddress(a);
  }

  /** One question to the servers in turn; the parsed answer, or undefined when none answered. */
  private async ask(servers: NameAddr[], name: string, type: number) {
    const q = buildQuery(randomInt(0x10000), name, type);
    if (!q) return undefined;
    const r = await this.exchangeAny(servers, q);
    return r ? parseMessage(r) : undefined;
  }

  private async exchangeAny(servers: NameAddr[], q: Uint8Array): Promise<Uint8Array | undefined> {
    for (let attempt = 0; attempt < 2; attempt++)
      for (const s of servers) {
        const r = await this.exchange(s, q);
        if (r) return r;
      }
    return undefined;
  }

  /** Sends `q` to server:53 from the network's stack; the reply with the same ID, or undefined on timeout. */
  private exchange(server: NameAddr, q: Uint8Array): Promise<Uint8Array | undefined> {
    this.stats.dnsQueries++;
    const id = (q[0]! << 8) | q[1]!;
    return new Promise((resolve) => {
      let sock: UdpSocket | undefined;
      let finished = false;
      const timer = setTimeout(() => {
        this.stats.dnsTimeouts++;
        done(undefined);
      }, this.timeoutMs);
      const done = (r: Uint8Array | undefined) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        try {
          sock?.close();
        } catch {}
        sock = undefined;
        resolve(r);
      };
      try {
        sock = this.backend.udpOpen(
          { family: server.family, address: server.family === 4 ? '0.0.0.0' : '::', port: 0 },
          { v6only: false },
        );
        sock.onMessage = (data, from) => {
          if (data.length >= 12 && ((data[0]! << 8) | data[1]!) === id && sameAddr(from, server) && from.port === 53)
            done(data.slice());
        };
        sock.sendTo(q, { family: server.family, address: server.address, port: 53 });
      } catch {
        done(undefined);
      }
    });
  }
}
