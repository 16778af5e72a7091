// A service killed (SIGKILL) in the middle of a TCP transfer between two members (two real services on
// 127.0.0.1 with their root/controller, tools/cluster.ts), once on the sender's side and once on the
// receiver's. The app whose service died gets the errno a TCP application expects, promptly (EPIPE or
// ECONNRESET on send, ECONNRESET on recv), and then waits in accept() on its parked listener; the app on
// the other side sees its peer go silent, as with a host that vanished (no error, nothing received).
// Neither spins: each one's CPU over a window from 1 s after the kill stays under 1 %.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { ResultPromise } from 'execa';
import { freePort, groupCpuSeconds, inNs, kill } from '../../testkit/intercept.js';
import { startCluster } from '../../tools/cluster.js';

const PY = '/usr/bin/python3';
const CPU_WINDOW_MS = 3000;

// Sends without end; on an error reports it, then goes back to accept() as a server would.
const SENDER = `
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', int(sys.argv[1]))); srv.listen(4)
print('listening', flush=True)
c, _ = srv.accept()
chunk = b'x' * 65536
try:
    while True:
        c.sendall(chunk)
except OSError as e:
    print('sender error', e.errno, flush=True)
c.close()
print('accepting again', flush=True)
try:
    srv.accept()
    print('accepted', flush=True)
except OSError as e:
    print('accept error', e.errno, flush=True)
    srv.accept()`;

const RECEIVER = `
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.settimeout(None)
got = 0
told = False
try:
    while True:
        d = c.recv(65536)
        if not d:
            print('receiver eof', flush=True)
            break
        got += len(d)
        if got >= 4 << 20 and not told:
            print('receiving', flush=True)
            told = True
except OSError as e:
    print('receiver error', e.errno, flush=True)
import time
time.sleep(120)`;

function lines(p: ResultPromise): {
  seen: string[];
  when(re: RegExp, ms: number): Promise<{ line: string; at: number }>;
} {
  const seen: string[] = [];
  const waiters: (() => void)[] = [];
  const stamps: number[] = [];
  // A line may arrive split over two chunks: only complete lines count.
  let rest = '';
  p.stdout?.on('data', (d: Buffer) => {
    const parts = (rest + String(d)).split('\n');
    rest = parts.pop() ?? '';
    for (const l of parts.filter(Boolean)) {
      seen.push(l);
      stamps.push(Date.now());
    }
    for (const w of waiters.splice(0)) w();
  });
  return {
    seen,
    async when(re, ms) {
      const until = Date.now() + ms;
      for (;;) {
        const i = seen.findIndex((l) => re.test(l));
        if (i >= 0) return { line: seen[i]!, at: stamps[i]! };
        const left = until - Date.now();
        if (left <= 0) throw new Error(`no line ${re} within ${ms} ms: ${seen.join(' | ')}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
  };
}

function killService(home: string): void {
  process.kill(Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8')), 'SIGKILL');
}

async function cpuFrom(pids: number[], afterMs: number): Promise<number[]> {
  await new Promise((r) => setTimeout(r, afterMs));
  const c0 = pids.map(groupCpuSeconds);
  await new Promise((r) => setTimeout(r, CPU_WINDOW_MS));
  return pids.map((p, i) => (groupCpuSeconds(p) - c0[i]!) / (CPU_WINDOW_MS / 1000));
}

for (const side of ['sender', 'receiver'] as const) {
  test.serial(
    `the ${side}'s service killed mid-transfer: prompt errno on that side, silence on the other, no spinning`,
    async (t) => {
      const cluster = await startCluster(['A', 'B']);
      const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
      const port = freePort();
      const sender = inNs(a.sock, PY, ['-c', SENDER, String(port)], { reject: false, all: false });
      const receiverP = () => inNs(b.sock, PY, ['-c', RECEIVER, a.ip, String(port)], { reject: false });
      let receiver: ResultPromise | undefined;
      t.teardown(async () => {
        kill(sender);
        kill(receiver);
        await cluster.stop();
      });
      const s = lines(sender);
      await s.when(/^listening$/, 15000);
      receiver = receiverP();
      const r = lines(receiver);
      await r.when(/^receiving$/, 30000);

      const killedAt = Date.now();
      killService(side === 'sender' ? a.home : b.home);
      const [dead, alive] = side === 'sender' ? [s, r] : [r, s];
      const err = await dead.when(side === 'sender' ? /^sender error/ : /^receiver error/, 5000);
      const ms = err.at - killedAt;
      if (side === 'sender')
        t.regex(err.line, /^sender error (32|104)$/); // EPIPE or ECONNRESET
      else t.regex(err.line, /^receiver error 104$/); // ECONNRESET
      t.true(ms < 2000, `${err.line} came ${ms} ms after the kill`);
      if (side === 'sender') await s.when(/^accepting again$/, 2000);

      const [cpuSender, cpuReceiver] = await cpuFrom([sender.pid!, receiver.pid!], 1000);
      t.true(cpuSender! < 0.01, `sender used ${(cpuSender! * 100).toFixed(1)} % CPU`);
      t.true(cpuReceiver! < 0.01, `receiver used ${(cpuReceiver! * 100).toFixed(1)} % CPU`);
      // the other side saw no error: its peer just went silent
      t.false(
        alive.seen.some((l) => /error|eof/.test(l)),
        alive.seen.join(' | '),
      );
      t.true(sender.exitCode === null && receiver.exitCode === null, 'both apps still run');
      t.log(
        `${side}'s service killed: "${err.line}" ${ms} ms after the kill; CPU 1-${1 + CPU_WINDOW_MS / 1000} s after: sender ${(cpuSender! * 100).toFixed(2)} %, receiver ${(cpuReceiver! * 100).toFixed(2)} %`,
      );
    },
  );
}
