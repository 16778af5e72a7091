// Two hosts for the VL2 benchmarks, as a user would have them: two network namespaces joined by a veth pair
// (ZeroTier One never uses loopback paths, so a fair comparison puts every node on real interfaces). Our
// service is the planet's root and the network controller in namespace a; members are added on either side,
// each either one of our services (apps run under the intercept through `zerotier-netcon run`) or, with
// ZT_ONE_BIN, a real ZeroTier One with its kernel tap (apps run natively in its namespace). The kernel
// baseline is the veth pair itself. Needs root (ip netns; /dev/net/tun for ZeroTier One). Nothing of
// ZeroTier One is part of netcon.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Options, type ResultPromise } from 'execa';
import { addressToString } from '../../service/core/address.js';
import { newIdentity } from '../../service/random.js';
import {
  makeNetns,
  type Netns,
  planetWithRoot,
  Scope,
  startZeroTier,
  stopService,
  writeHome,
  ZT_ONE_BIN,
  ztCli,
} from '../../testkit/zerotier-one.js';
import { bin, ROOT, waitFor } from '../../tools/cluster.js';

const ROOT_PORT = 29993;
const POOL = '10.235.0';

export type Side = 'a' | 'b';
export type Kind = 'netcon' | 'zt1' | 'kernel';

/** One host on the benchmark network: its address there, and how to run a program on it. */
export interface LabMember {
  kind: Kind;
  side: Side;
  ip: string;
  /** The node's process id (undefined for the kernel), for its CPU time. */
  pid(): number | undefined;
  run(cmd: string, args: string[], opts?: Options): ResultPromise;
  stop(): Promise<void>;
}

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

export class Lab {
  private ports = 30000;
  private constructor(
    readonly scope: Scope,
    readonly ns: Netns,
    private readonly dir: string,
    private readonly planet: Uint8Array,
    private readonly rootHome: string,
    readonly nwid: string,
    private readonly log: (m: string) => void,
  ) {}

  /** The namespaces, our root + controller in namespace a, and one private network on it. */
  static async start(log: (m: string) => void): Promise<Lab> {
    const scope = new Scope();
    try {
      const ns = await makeNetns(scope, 'lab', 'l', '10.234');
      const dir = mkdtempSync(join(tmpdir(), 'netcon-lab-'));
      scope.dirs.push(dir);
      const rootId = newIdentity();
      const planet = planetWithRoot(rootId, `${ns.ipA}/${ROOT_PORT}`);
      const rootHome = join(dir, 'root');
      writeHome(rootHome, rootId, planet, false);
      scope.services.push(rootHome);
      const started = await execa(
        'ip',
        ['netns', 'exec', ns.a, bin('zerotier-netcon-service'), '-d', `-p${ROOT_PORT}`, rootHome],
        {
          reject: false,
        },
      );
      if (started.exitCode !== 0) throw new Error(`our root did not start: ${started.stderr}`);
      const nw = (await api(ns.a, rootHome, 'POST', `/controller/network/${addressToString(rootId.address)}______`, {
        name: 'bench',
        private: true,
        v4AssignMode: { zt: true },
        ipAssignmentPools: [{ ipRangeStart: `${POOL}.10`, ipRangeEnd: `${POOL}.250` }],
        routes: [{ target: `${POOL}.0/24` }],
      })) as { id: string };
      log(`lab: namespaces ${ns.a} (${ns.ipA}) and ${ns.b} (${ns.ipB}), network ${nw.id}`);
      return new Lab(scope, ns, dir, planet, rootHome, nw.id, log);
    } catch (e) {
      await scope.close();
      throw e;
    }
  }

  private nsOf(side: Side): string {
    return side === 'a' ? this.ns.a : this.ns.b;
  }

  /** The veth pair itself: programs run natively in the namespace, on its veth address. */
  kernel(side: Side): LabMember {
    const ns = this.nsOf(side);
    return {
      kind: 'kernel',
      side,
      ip: side === 'a' ? this.ns.ipA : this.ns.ipB,
      pid: () => undefined,
      run: (cmd, args, opts = {}) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, ...opts }),
      stop: async () => {},
    };
  }

  private async authorize(address: string): Promise<void> {
    await api(this.ns.a, this.rootHome, 'POST', `/controller/network/${this.nwid}/member/${address}`, {
      authorized: true,
    });
  }

  /** One of our services in the namespace, joined and authorized; apps run under the intercept. */
  async netcon(side: Side, name: string): Promise<LabMember> {
    const ns = this.nsOf(side);
    const home = join(this.dir, name);
    const id = newIdentity();
    writeHome(home, id, this.planet, false);
    this.scope.services.push(home);
    const port = this.ports++;
    // BENCH_NODE_FLAGS: extra node flags for the service (e.g. --cpu-prof --cpu-prof-dir=<dir> to see where a
    // round trip's time goes); the detached service inherits them.
    const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const service = join(ROOT, 'bin', 'zerotier-netcon-service.js');
    const started = await execa(
      'ip',
      ['netns', 'exec', ns, process.execPath, ...flags, service, '-d', `-p${port}`, home],
      {
        reject: false,
      },
    );
    if (started.exitCode !== 0) throw new Error(`member ${name} did not start: ${started.stderr}`);
    await execa('ip', ['netns', 'exec', ns, bin('zerotier-cli'), `-D${home}`, 'join', this.nwid]);
    await this.authorize(addressToString(id.address));
    const w = await execa('ip', ['netns', 'exec', ns, bin('zerotier-netcon'), 'wait', `-D${home}`, '-t60', this.nwid]);
    const ip = w.stdout.split(' ')[1]!.split(',')[0]!.split('/')[0]!;
    this.log(`lab: netcon member ${name} in ${ns} is ${ip}`);
    const pid = () => {
      try {
        return Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
      } catch {
        return undefined;
      }
    };
    return {
      kind: 'netcon',
      side,
      ip,
      pid,
      run: (cmd, args, opts = {}) =>
        execa('ip', ['netns', 'exec', ns, bin('zerotier-netcon'), 'run', `-D${home}`, this.nwid, '--', cmd, ...args], {
          reject: false,
          ...opts,
        }),
      stop: () => stopService(home),
    };
  }

  /** A real ZeroTier One (ZT_ONE_BIN) in the namespace with its kernel tap, joined and authorized. */
  async zeroTierOne(side: Side, name: string): Promise<LabMember> {
    if (!ZT_ONE_BIN) throw new Error('ZT_ONE_BIN is not set');
    const ns = this.nsOf(side);
    const home = join(this.dir, name);
    const id = newIdentity();
    writeHome(home, id, this.planet, true);
    const child = startZeroTier(this.scope, ns, home);
    await waitFor(`ZeroTier One ${name} ONLINE`, 60000, async () =>
      /^200 info \S+ \S+ ONLINE/.test((await ztCli(ns, home, 'info')).out) ? true : undefined,
    );
    await ztCli(ns, home, 'join', this.nwid);
    await this.authorize(addressToString(id.address));
    const ip = await waitFor(`a tap address for ${name}`, 60000, async () => {
      const row = (await ztCli(ns, home, 'listnetworks')).out
        .split('\n')
        .find((l) => l.startsWith(`200 listnetworks ${this.nwid} `))
        ?.split(' ');
      return row?.[5] === 'OK' && row[8]?.startsWith(`${POOL}.`) ? row[8].split('/')[0] : undefined;
    });
    this.log(`lab: ZeroTier One member ${name} in ${ns} is ${ip}`);
    return {
      kind: 'zt1',
      side,
      ip,
      pid: () => child.pid,
      run: (cmd, args, opts = {}) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, ...opts }),
      stop: async () => {
        child.kill('SIGTERM');
        await child;
      },
    };
  }

  close(): Promise<void> {
    return this.scope.close();
  }
}

/** Waits until `ip` answers a TCP connect from `from` (the path between two members is up). */
export async function reachable(from: LabMember, ip: string, port: number): Promise<void> {
  await waitFor(`${from.kind} member reaching ${ip}:${port}`, 60000, async () => {
    const r = await from.run('python3', [
      '-c',
      `import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 2); s.close()`,
      ip,
      String(port),
    ]);
    return r.exitCode === 0 ? true : undefined;
  });
}

/** One of our controller API calls, made with curl inside the namespace where the service runs. */
async function api(ns: string, home: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const args = ['netns', 'exec', ns, 'curl', '-sS', '-f', '-X', method, '-H', `X-ZT1-Auth: ${token}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
  const r = await execa('ip', [...args, `http://127.0.0.1:${ROOT_PORT}${path}`], { reject: false, timeout: 20000 });
  if (r.exitCode !== 0) throw new Error(`controller ${method} ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
