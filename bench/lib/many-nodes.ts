// The process under measurement in `npm run bench -- density`: many nodes in one Node process, each a
// Service (service/daemon/service.ts) with its own home, UDP port and API port, started from the node
// folders of <dir>. Run as a child: node dist/bench/lib/many-nodes.js <dir>
// It prints JSON lines on stdout: {"started":n,"ms":…} once every folder's node is up, then {"ok":k,"of":n}
// each time the count of nodes whose every joined network is OK changes. A line "add <folder>" on stdin starts
// one more node; {"added":name,"ok":true,"ms":…} follows when its network is OK.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NetworkStatus } from '../../service/core/vl2/network-config.js';
import { type Logger, Service } from '../../service/daemon/service.js';

// NETCON_DENSITY_LOG=1: every node's info lines too, with the time and the node's folder.
const verbose = process.env.NETCON_DENSITY_LOG === '1';
const logger = (name: string): Logger => ({
  info: (m) => verbose && process.stderr.write(`${(performance.now() / 1000).toFixed(2)} ${name} ${m}\n`),
  debug: (m) => verbose && process.stderr.write(`${(performance.now() / 1000).toFixed(2)} ${name} debug ${m}\n`),
  warn: (m) => process.stderr.write(`warn: ${name} ${m}\n`),
});

function ok(s: Service): boolean {
  const nets = s.networks?.list() ?? [];
  return nets.length > 0 && nets.every((j) => j.net.status === NetworkStatus.OK && j.stack.addresses.length > 0);
}

const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: many-nodes <dir>');
  const names = readdirSync(dir).filter((n) => /^[0-9a-f]{10}$/.test(n));
  const services: Service[] = [];
  const t0 = performance.now();
  // A few at a time: each start reads a handful of small files.
  const queue = [...names];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift())
        services.push(await Service.start({ home: join(dir, n), port: 0, log: logger(n) }));
    }),
  );
  out({ started: services.length, ms: Math.round(performance.now() - t0) });
  let last = -1;
  const poll = setInterval(() => {
    const k = services.filter(ok).length;
    if (k !== last) out({ ok: k, of: services.length });
    last = k;
  }, 250);
  poll.unref();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = /^add (\S+)$/.exec(line.trim());
    if (!m) return;
    const t = performance.now();
    void Service.start({ home: join(dir, m[1]!), port: 0, log: logger(m[1]!) }).then((s) => {
      services.push(s);
      const check = setInterval(() => {
        if (!ok(s)) return;
        clearInterval(check);
        out({ added: m[1], ok: true, ms: Math.round(performance.now() - t) });
      }, 5);
    });
  });
  rl.on('close', () => {
    void Promise.all(services.map((s) => s.stop())).then(() => process.exit(0));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((e) => {
    process.stderr.write(`many-nodes: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
