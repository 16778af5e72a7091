// One worker thread of service/bulk-identities.ts: generates an identity (service/random.ts, the OS's CSPRNG)
// for every message it receives and posts back its secret text form. The memory-hard hash's 2 MiB table is
// per thread (native/src/identity.cc keeps it thread_local), so workers never share state.
import { parentPort } from 'node:worker_threads';
import { newIdentity } from './random.js';

const port = parentPort;
if (!port) throw new Error('bulk-identities-worker runs only as a worker thread');
port.on('message', () => {
  port.postMessage(newIdentity().toString(true));
});
