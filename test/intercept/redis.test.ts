// redis-server preloaded in an empty network namespace; redis-cli (SET/GET/EVAL) and
// redis-benchmark preloaded on the other stack.
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import {
  A4,
  A6,
  inNs,
  kill,
  LIB,
  type NetconHost,
  portOpen,
  startHost,
  tmp,
  waitFor,
} from '../../testkit/intercept.js';

const PORT = 6390;
let host: NetconHost;
let server: ResultPromise;

test.before(async () => {
  host = await startHost();
  const dir = tmp('netcon-redis-');
  server = inNs(
    host.a,
    '/usr/bin/redis-server',
    [
      '--port',
      String(PORT),
      '--bind',
      `${A4} ${A6}`,
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      '--dir',
      dir,
    ],
    { reject: false },
  );
  await waitFor(() => portOpen(host.b, A4, PORT), 15000, 'redis-server');
});

test.after.always(async () => {
  kill(server);
  await host?.stop();
});

function cli(args: string[]) {
  return inNs(host.b, '/usr/bin/redis-cli', ['-h', A4, '-p', String(PORT), ...args], { reject: false, timeout: 30000 });
}

test('redis-cli SET/GET/EVAL against redis-server', async (t) => {
  t.is(String((await cli(['SET', 'netcon', 'works'])).stdout).trim(), 'OK');
  t.is(String((await cli(['GET', 'netcon'])).stdout).trim(), 'works');
  const ev = await cli(['EVAL', "return redis.call('get', KEYS[1]) .. ARGV[1]", '1', 'netcon', '!']);
  t.is(String(ev.stdout).trim(), 'works!');
  const v6 = await inNs(host.b, '/usr/bin/redis-cli', ['-h', A6, '-p', String(PORT), 'PING'], { reject: false });
  t.is(String(v6.stdout).trim(), 'PONG');
});

test('redis-benchmark -q -n 20000', async (t) => {
  const r = await inNs(
    host.b,
    '/usr/bin/redis-benchmark',
    ['-h', A4, '-p', String(PORT), '-q', '-n', '20000', '-t', 'ping,set,get,incr,lpush,lpop'],
    { reject: false, timeout: 240000 },
  );
  t.is(r.exitCode, 0, String(r.stderr));
  const out = String(r.stdout);
  for (const cmd of ['PING_INLINE', 'SET', 'GET', 'INCR', 'LPUSH', 'LPOP']) {
    t.regex(out, new RegExp(`${cmd}: [\\d.]+ requests per second`), `${cmd} in\n${out}`);
  }
  t.log(
    out
      .replace(/\r/g, '\n')
      .split('\n')
      .filter((l) => l.includes('requests per second'))
      .join('\n'),
  );
});

test('redis-server and redis-cli without ZT_NC_NETWORK behave as without the library', async (t) => {
  const dir = tmp('netcon-redis-plain-');
  const script = `ip link set lo up; redis-server --port 6391 --bind 127.0.0.1 --save '' --dir ${dir} >/dev/null & S=$!;
    for i in $(seq 50); do redis-cli -p 6391 ping >/dev/null 2>&1 && break; sleep 0.1; done;
    redis-cli -p 6391 set plain yes && redis-cli -p 6391 get plain; r=$?; kill $S; exit $r`;
  const r = await execa('unshare', ['-n', '--', 'sh', '-c', script], { env: { LD_PRELOAD: LIB }, reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(r.stdout.split('\n'), ['OK', 'yes']);
});
