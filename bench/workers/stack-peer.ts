// The receiving end of `npm run bench -- stack` in its own thread: stack B (10.200.0.2) behind a SharedRing
// link, a listener on port 5201 that counts what arrives; posts { received, seconds } when `size` bytes came.
import { parentPort, workerData } from 'node:worker_threads';
import { attachSharedLink, SharedRing } from '../../netcon/shared-link.js';
import { Stack } from '../../netcon/stack.js';

const { toB, toA, size } = workerData as { toB: SharedArrayBuffer; toA: SharedArrayBuffer; size: number };
const b = new Stack({
  mac: new Uint8Array([2, 0, 0x5e, 0, 0, 2]),
  mtu: 2800,
  addresses: [{ address: '10.200.0.2', prefix: 24 }],
  routes: [],
});
const link = attachSharedLink(b, new SharedRing(toA), new SharedRing(toB));
b.tcpListen({ family: 4, address: '', port: 5201 }, {}, (s) => {
  let received = 0;
  let t0 = 0;
  s.handlers = {
    onDataBorrowed(c) {
      if (received === 0) t0 = performance.now();
      received += c.length;
      s.consumed(c.length);
      if (received === size) {
        parentPort!.postMessage({ received, seconds: (performance.now() - t0) / 1000 });
        setTimeout(() => {
          link.stop();
          b.close();
        }, 50);
      }
    },
  };
});
// The link's waits do not keep a thread alive; the port does, until the main thread terminates us.
parentPort!.on('message', () => {});
parentPort!.postMessage({ ready: true });
