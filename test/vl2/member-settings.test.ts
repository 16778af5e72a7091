// A member's network settings (allowManaged, allowGlobal, allowDefault) as ZeroTier One applies them, here to
// a running netcon stack, changed with zerotier-cli set; and a network that stops being OK (deauthorized,
// deleted) drops its addresses. Real services (root + controller, members A and B on 127.0.0.1), real
// programs under the intercept in empty network namespaces: a TCP server on A's stack, a client on B's.
import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { inNs, kill, LIB } from '../../testkit/intercept.js';
import { api, type Cluster, cli, startCluster, waitFor } from '../../tools/cluster.js';

const SERVER = `
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('0.0.0.0',int(sys.argv[1])))
s.listen(16)
print('listening',flush=True)
while True:
  c,a=s.accept()
  c.sendall(b'hi\\n')
  c.close()
`;

const CLIENT = `
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
  s.connect((sys.argv[1],int(sys.argv[2])))
  print('ok',s.recv(10).decode().strip())
except Exception as e:
  print('error',e)
`;

/** B connects to ip:port through its stack; 'ok hi' or 'error <why>'. */
async function probe(sock: string, ip: string, port: number, timeout = 2, env: Record<string, string> = {}) {
  const r = await inNs(sock, 'python3', ['-c', CLIENT, ip, String(port), String(timeout)], {
    reject: false,
    timeout: 20000,
    env,
  });
  return String(r.stdout).trim();
}

async function row(home: string, nwid: string): Promise<string[]> {
  const out = (await cli(home, 'listnetworks')).stdout;
  return (
    out
      .split('\n')
      .find((l) => l.startsWith(`200 listnetworks ${nwid} `))
      ?.split(' ') ?? []
  );
}

async function set(t: ExecutionContext, home: string, nwid: string, setting: string): Promise<void> {
  const r = await cli(home, 'set', nwid, setting);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  const [k, v] = setting.split('=');
  t.is((JSON.parse(r.stdout) as Record<string, unknown>)[k!], v === '1', `set ${setting} answered`);
}

let cluster: Cluster | undefined;
test.after.always(async () => {
  await cluster?.stop();
});

test('settings on a running stack: allowManaged, allowGlobal, allowDefault; deauthorized and deleted networks drop their addresses', async (t) => {
  if (!existsSync(LIB)) return t.fail(`${LIB} missing: run ./build.sh`);
  cluster = await startCluster(['A', 'B']);
  const { nwid, root } = cluster;
  const [A, B] = cluster.members as [Cluster['members'][0], Cluster['members'][0]];
  const ctl = (path: string, body?: unknown) =>
    api(root.home, root.port, body === undefined ? 'GET' : 'POST', `/controller/network/${nwid}${path}`, body);
  const port = 7000 + Math.floor(Math.random() * 1000);
  const server = inNs(A.sock, 'python3', ['-u', '-c', SERVER, String(port)], { reject: false, stdout: 'pipe' });
  t.teardown(() => kill(server));
  await waitFor('the server on A', 20000, async () =>
    (await probe(B.sock, A.ip, port)) === 'ok hi' ? true : undefined,
  );
  t.pass('B reaches the server on A');

  // allowManaged=0: A's managed address leaves its stack (listnetworks still shows it, as ZeroTier One).
  await set(t, A.home, nwid, 'allowManaged=0');
  t.regex((await probe(B.sock, A.ip, port)).toString(), /^error/, 'A no longer answers on its managed address');
  t.is((await row(A.home, nwid))[8], `${A.ip}/24`, 'the assigned address is still listed');
  await set(t, A.home, nwid, 'allowManaged=1');
  t.is(await probe(B.sock, A.ip, port, 5), 'ok hi', 'and answers again with allowManaged=1');

  // allowGlobal: a global address (100.200.0.0/24 is outside every private range) and its route.
  await ctl('', { routes: [{ target: '10.147.20.0/24' }, { target: '100.200.0.0/24' }] });
  await ctl(`/member/${A.address}`, { ipAssignments: [A.ip, '100.200.0.5'] });
  await ctl(`/member/${B.address}`, { ipAssignments: [B.ip, '100.200.0.6'] });
  for (const m of [A, B])
    await waitFor(`${m.name} assigned its global address`, 20000, async () =>
      (await row(m.home, nwid))[8]?.includes('100.200.0.') ? true : undefined,
    );
  t.regex(await probe(B.sock, '100.200.0.5', port), /unreachable/i, 'without allowGlobal B has no route there');
  await set(t, B.home, nwid, 'allowGlobal=1');
  t.regex(await probe(B.sock, '100.200.0.5', port), /^error/, 'B routes it; A, without allowGlobal, does not answer');
  await set(t, A.home, nwid, 'allowGlobal=1');
  t.is(await probe(B.sock, '100.200.0.5', port, 5), 'ok hi', 'with allowGlobal on both, A answers on it');
  t.is(await probe(B.sock, A.ip, port), 'ok hi', 'and still on its private address');

  // allowDefault: a default route through the network makes it the program's default path; without it,
  // fall-through decides (here: the host's stack, in an empty namespace, has no route at all).
  await ctl('', { routes: [{ target: '10.147.20.0/24' }, { target: '100.200.0.0/24' }, { target: '0.0.0.0/0' }] });
  await waitFor('the default route on B', 20000, async () => {
    const nets = JSON.parse((await cli(B.home, '-j', 'listnetworks')).stdout) as { routes: { target: string }[] }[];
    return nets[0]?.routes.some((r) => r.target === '0.0.0.0/0') ? true : undefined;
  });
  const ft = { ZT_NC_FALLTHROUGH: '1' };
  t.regex(await probe(B.sock, '10.250.0.1', 80, 2, ft), /unreachable/i, 'allowDefault=0: fall-through to the host');
  await set(t, B.home, nwid, 'allowDefault=1');
  t.is((await cli(B.home, 'get', nwid, 'allowDefault')).stdout, '1');
  const viaNet = await probe(B.sock, '10.250.0.1', 80, 2, ft);
  t.regex(viaNet, /timed out/, 'allowDefault=1: the connection goes into the network (nobody answers there)');
  await set(t, B.home, nwid, 'allowDefault=0');
  t.regex(await probe(B.sock, '10.250.0.1', 80, 2, ft), /unreachable/i, 'and back to fall-through');

  // Deauthorized: ACCESS_DENIED, no addresses listed, the stack stops answering; authorized again: back.
  const t0 = Date.now();
  await ctl(`/member/${A.address}`, { authorized: false });
  const denied = await waitFor('A denied', 20000, async () => {
    const r = await row(A.home, nwid);
    return r[5] === 'ACCESS_DENIED' ? r : undefined;
  });
  t.log(`A: ${denied.slice(5).join(' ')} ${Date.now() - t0} ms after deauthorization`);
  t.is(denied[8], '-', 'listnetworks shows no address');
  t.regex(await probe(B.sock, A.ip, port), /^error/, "A's stack no longer answers on its old address");
  await ctl(`/member/${A.address}`, { authorized: true });
  await waitFor('A OK again', 30000, async () => ((await row(A.home, nwid))[5] === 'OK' ? true : undefined));
  await waitFor('A answering again', 20000, async () =>
    (await probe(B.sock, A.ip, port)) === 'ok hi' ? true : undefined,
  );
  t.pass('authorized again, A answers again');

  // Deleted: NOT_FOUND, no addresses.
  await api(root.home, root.port, 'DELETE', `/controller/network/${nwid}`);
  const gone = await waitFor('A told the network is gone', 30000, async () => {
    const r = await row(A.home, nwid);
    return r[5] === 'NOT_FOUND' || r[5] === 'ACCESS_DENIED' ? r : undefined;
  });
  t.log(`A after the network's deletion: ${gone.slice(5).join(' ')}`);
  t.is(gone[8], '-');
  t.regex(await probe(B.sock, A.ip, port), /^error/);
});
