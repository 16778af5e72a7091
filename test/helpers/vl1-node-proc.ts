// A VL1 node in its own process over real UDP (IPv4 only, on 127.0.0.1 unless told), for the multi-process tests.
//   node vl1-node-proc.js <home> <port> [bind address, default 127.0.0.1]
// Reads JSON commands on stdin, one per line; writes JSON events on stdout, one per line:
//   {"cmd":"send","to":"<10 hex>","text":"…"}   → USER_MESSAGE
//   {"cmd":"peers"}                            → {"event":"peers","peers":[…]}
//   {"cmd":"install","file":"<planet file>"}   → {"event":"install","accept":…}
// Events: ready, message, world, peers, install.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { addressToString, parseAddress } from '../../service/core/address.js';
import { formatInetAddress } from '../../service/core/inet-address.js';
import { parseWorld, WORLD_TYPE_PLANET } from '../../service/core/world.js';
import {
  loadOrCreateIdentity,
  readMoons,
  readPlanet,
  writeMoon,
  writePlanet,
} from '../../service/daemon/state-files.js';
import { UdpNode } from '../../service/daemon/udp-host.js';

const [home, portText, bind4 = '127.0.0.1'] = process.argv.slice(2);
if (!home || !portText) {
  process.stderr.write('usage: vl1-node-proc <home> <port> [bind address]\n');
  process.exit(1);
}
const emit = (o: object) =>
  process.stdout.write(`${JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);

const { identity } = await loadOrCreateIdentity(home);
const planet = await readPlanet(home);
const { moons } = await readMoons(home);
const udp = await UdpNode.start(
  { identity, planet, moons, port: Number(portText), bind4, bind6: false },
  {
    userMessage: (source, typeId, data) =>
      emit({ event: 'message', source: addressToString(source), typeId, text: Buffer.from(data).toString() }),
    worldUpdated: (w) => {
      const write = w.type === WORLD_TYPE_PLANET ? writePlanet(home, w) : writeMoon(home, w);
      void write.then(() => emit({ event: 'world', id: w.id, timestamp: w.timestamp }));
    },
  },
);
emit({ event: 'ready', address: addressToString(identity.address), port: udp.port() });

createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line) as { cmd: string; to?: string; text?: string; file?: string };
  const now = Date.now();
  if (c.cmd === 'send') {
    udp.node.sendUserMessage(now, parseAddress(c.to!)!, 0x10000n, Buffer.from(c.text ?? ''));
  } else if (c.cmd === 'peers') {
    emit({
      event: 'peers',
      online: udp.node.online(now),
      peers: udp.node.peerInfo(now).map((p) => ({
        address: addressToString(p.address),
        role: p.role,
        version: p.protocolVersion,
        software: `${p.versionMajor}.${p.versionMinor}.${p.versionRevision}`,
        paths: p.paths.filter((x) => x.active).map((x) => formatInetAddress(x.address)),
      })),
      received: Object.fromEntries(udp.node.received),
      drops: Object.fromEntries(udp.node.drops),
    });
  } else if (c.cmd === 'install') {
    const check = udp.node.installWorld(parseWorld(readFileSync(c.file!)));
    emit({ event: 'install', accept: check.accept });
  }
});
process.on('SIGTERM', () => {
  udp.close();
  process.exit(0);
});
