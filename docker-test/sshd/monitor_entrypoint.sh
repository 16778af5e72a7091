#!/bin/sh
# sshd suite, the monitor: key login and a remote command, then scp of the 10 MiB file, MD5 equal.
. "$DT/lib/monitor-lib.sh"
ssh-keygen -q -t ed25519 -N '' -f "$W/id"
cp "$W/id.pub" "$SHARED/authorized_keys.tmp" && mv "$SHARED/authorized_keys.tmp" "$SHARED/authorized_keys"
OPTS="-i $W/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR"
U=$(id -un)
login() { out=$(ssh $OPTS -p 22 "$U@$TARGET4" 'echo netcon-$((6*7)) $SSH_CONNECTION'); echo "$out"; echo "$out" | grep -q "^netcon-42 $SELF4 [0-9]* $TARGET4 22\$"; }
wait_until 120 "sshd" sh -c "echo | curl -s --max-time 3 telnet://$TARGET4:22 | grep -q SSH" &&
  { step "ssh key login" login && note "ssh: key login as $U, remote command ran, sshd saw the peer as $SELF4" || fail "ssh key login"; } &&
  md5_fetch "scp 10 MiB" "$(expected_md5)" "$W/file.bin" scp $OPTS -P 22 "$U@$TARGET4:/tmp/dt/sshd/file.bin" "$W/file.bin"
figure "up ${ANSWERED_S:-?} s; scp 10 MiB ${RATE:-?} MiB/s"
finish
