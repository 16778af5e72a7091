// Apache httpd in single-process mode (-X), preloaded in an empty network namespace, serving a
// 10 MiB file to curl on the other stack.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { ResultPromise } from 'execa';
import { A4, A6, inNs, kill, type NetconHost, portOpen, startHost, tmp, waitFor } from '../../testkit/intercept.js';

const PORT = 8083;
const MODS = '/usr/lib/apache2/modules';
let host: NetconHost;
let server: ResultPromise;
let dir: string;
let md5: string;

test.before(async () => {
  dir = tmp('netcon-apache-');
  chmodSync(dir, 0o755);
  const www = join(dir, 'www');
  mkdirSync(www, { mode: 0o755 });
  const data = randomBytes(10 * 1024 * 1024);
  writeFileSync(join(www, 'file.bin'), data, { mode: 0o644 });
  writeFileSync(join(www, 'index.html'), 'hello from apache\n', { mode: 0o644 });
  md5 = createHash('md5').update(data).digest('hex');
  writeFileSync(
    join(dir, 'httpd.conf'),
    `ServerRoot ${dir}
LoadModule mpm_prefork_module ${MODS}/mod_mpm_prefork.so
LoadModule authz_core_module ${MODS}/mod_authz_core.so
LoadModule dir_module ${MODS}/mod_dir.so
Listen ${PORT}
ServerName netcon-test
User nobody
Group nogroup
PidFile ${dir}/httpd.pid
Mutex file:${dir} default
ErrorLog ${dir}/error.log
LogLevel info
DocumentRoot ${www}
EnableSendfile On
<Directory ${www}>
  Require all granted
</Directory>
`,
  );
  host = await startHost();
  server = inNs(host.a, '/usr/sbin/apache2', ['-X', '-f', join(dir, 'httpd.conf')], { reject: false });
  await waitFor(() => portOpen(host.b, A4, PORT), 15000, 'apache');
});

test.after.always(async () => {
  kill(server);
  await host?.stop();
});

test('apache httpd -X → curl: 10 MiB, MD5 equal; IPv6 listener', async (t) => {
  const out = join(dir, 'out.bin');
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '60', '-o', out, `http://${A4}:${PORT}/file.bin`], {
    reject: false,
  });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(createHash('md5').update(readFileSync(out)).digest('hex'), md5);
  const r6 = await inNs(host.b, 'curl', ['-sS', '--max-time', '30', `http://[${A6}]:${PORT}/`], { reject: false });
  t.is(String(r6.stdout).trim(), 'hello from apache', String(r6.stderr));
});
