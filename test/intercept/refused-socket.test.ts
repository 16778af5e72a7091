// A network socket another user may not use (nc_<nwid> is 0600, owned by the service's user): a program of
// a different user under the library gets EACCES from socket(), the errno a permission problem has, not a
// generic failure, and nothing reaches the host's network. As root, the test runs the program as nobody.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { LIB } from '../../testkit/intercept.js';

test('socket() on a service socket of another user fails with EACCES', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root to run the program as another user');
  const dir = mkdtempSync(join(tmpdir(), 'netcon-eacces-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'nc_0000000000000001');
  // Any listener will do: the program's connect() is refused by the file's mode before anything is said.
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  chmodSync(path, 0o600);
  try {
    const r = await execa(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '/usr/bin/python3', // Debian's: nobody may run it (a pyenv shim under /root may not be)
        '-c',
        'import socket\ntry:\n  socket.socket()\n  print("opened")\nexcept OSError as e:\n  print("errno", e.errno)',
      ],
      { reject: false, env: { LD_PRELOAD: LIB, ZT_NC_NETWORK: path } },
    );
    t.is(String(r.stdout).trim(), 'errno 13', `${r.stdout}\n${r.stderr}`);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
