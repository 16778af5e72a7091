#!/bin/sh
# sshd suite, the app: OpenSSH's sshd in the foreground, unmodified, under the intercept, as the container's
# (non-root) user: key login only, for that user. The monitor puts its public key into the shared folder.
set -eu
. "$DT/lib/app-lib.sh"
W=/tmp/dt/sshd
make_file "$W/file.bin"
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
cat >"$W/sshd_config" <<CONF
Port 22
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $SHARED/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
Subsystem sftp internal-sftp
LogLevel INFO
CONF
exec /usr/sbin/sshd -D -e -f "$W/sshd_config"
