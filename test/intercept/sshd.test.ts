// sshd (which re-executes itself per connection, and drops privileges in a forked child),
// preloaded in an empty network namespace; ssh logs in with a key and runs a remote command.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { A4, A6, inNs, kill, type NetconHost, portOpen, startHost, tmp, waitFor } from '../../testkit/intercept.js';

const PORT = 2222;
let host: NetconHost;
let server: ResultPromise;
let dir: string;

test.before(async () => {
  dir = tmp('netcon-sshd-');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')));
  writeFileSync(
    join(dir, 'sshd_config'),
    `Port ${PORT}
ListenAddress ${A4}
ListenAddress ${A6}
HostKey ${join(dir, 'host_key')}
PidFile ${join(dir, 'sshd.pid')}
AuthorizedKeysFile ${join(dir, 'authorized_keys')}
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
LogLevel VERBOSE
`,
  );
  host = await startHost();
  server = inNs(host.a, '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { reject: false });
  await waitFor(() => portOpen(host.b, A4, PORT), 15000, 'sshd');
});

test.after.always(async () => {
  kill(server);
  await host?.stop();
});

function ssh(address: string, command: string) {
  return inNs(
    host.b,
    'ssh',
    [
      '-i',
      join(dir, 'id'),
      '-p',
      String(PORT),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=20',
      `root@${address}`,
      command,
    ],
    { reject: false, timeout: 60000 },
  );
}

test('sshd: key login and a remote command (IPv4), the peer address as sshd sees it', async (t) => {
  const r = await ssh(A4, 'echo netcon-$((6*7)); echo $SSH_CONNECTION');
  t.is(r.exitCode, 0, String(r.stderr));
  const [first, conn] = String(r.stdout).split('\n');
  t.is(first, 'netcon-42');
  t.regex(conn ?? '', /^10\.147\.17\.2 \d+ 10\.147\.17\.1 2222$/);
});

test('sshd: key login over IPv6, 1 MiB through the channel', async (t) => {
  const r = await ssh(A6, 'head -c 1048576 /dev/zero | wc -c');
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(String(r.stdout).trim(), '1048576');
});
