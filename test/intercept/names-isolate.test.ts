// Names under `zerotier-netcon run --isolate` (README "Network settings and names"): in a network namespace of
// its own, where no resolver of the host can answer, a program resolves a member by its name on the network
// (<name>.<domain>, from the controller) and connects to it; an unknown name fails with glibc's error for an
// unknown name, promptly. Real services: root + controller and one member on 127.0.0.1.
import test from 'ava';
import { execa } from 'execa';
import { api, bin, type Cluster, cli, startCluster, waitFor } from '../../tools/cluster.js';

let cluster: Cluster | undefined;
test.after.always(async () => {
  await cluster?.stop();
});

const PROGRAM = `
import socket, sys, time
srv = socket.socket(); srv.bind(('0.0.0.0', 0)); srv.listen(1)
ip = socket.getaddrinfo(sys.argv[1], srv.getsockname()[1], socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
c = socket.create_connection((ip, srv.getsockname()[1]), timeout=10)
s, peer = srv.accept(); c.sendall(b'by name'); print(s.recv(100).decode(), ip)
t0 = time.monotonic()
try:
    socket.getaddrinfo('nobody.' + sys.argv[2], 80)
    print('unknown name resolved')
except socket.gaierror as e:
    print('unknown', e.errno, round((time.monotonic() - t0) * 1000))`;

test('a program under --isolate resolves a member by its name on the network and connects to it', async (t) => {
  cluster = await startCluster(['A']);
  const { nwid, root } = cluster;
  const A = cluster.members[0]!;
  await api(root.home, root.port, 'POST', `/controller/network/${nwid}`, { dns: { domain: 'lab.zt', servers: [] } });
  await api(root.home, root.port, 'POST', `/controller/network/${nwid}/member/${A.address}`, { name: 'Front End' });
  await waitFor('the member to hold the domain', 30000, async () => {
    const n = (JSON.parse((await cli(A.home, '-j', 'listnetworks')).stdout) as { dns: { domain: string } }[])[0];
    return n?.dns.domain === 'lab.zt' ? true : undefined;
  });
  const r = await waitFor('the name to resolve under --isolate', 30000, async () => {
    const x = await execa(
      bin('zerotier-netcon'),
      ['run', `-D${A.home}`, '--isolate', nwid, '--', 'python3', '-c', PROGRAM, 'front-end.lab.zt', 'lab.zt'],
      { reject: false, all: true, timeout: 30000 },
    );
    return x.exitCode === 0 ? x : undefined;
  });
  const [first, second] = String(r.stdout).trim().split('\n');
  t.is(first, `by name ${A.ip}`, String(r.all));
  const m = /^unknown (-?\d+) (\d+)$/.exec(second ?? '');
  t.truthy(m, String(r.all));
  t.is(Number(m![1]), -2, 'EAI_NONAME, as glibc answers for an unknown name'); // socket.EAI_NONAME
  t.true(Number(m![2]) < 1000, `an unknown name fails promptly (${m![2]} ms)`);
});
