#!/bin/sh
# dnsmasq suite, the app: dnsmasq in the foreground, unmodified, under the intercept: a UDP service answering
# for names it serves (netcon.test), nothing forwarded.
set -eu
W=/tmp/dt/dnsmasq
mkdir -p "$W"
exec /usr/sbin/dnsmasq --keep-in-foreground --log-queries --log-facility=- --conf-file=/dev/null \
  --no-resolv --no-hosts --port 53 --user="$(id -un)" --pid-file="$W/dnsmasq.pid" \
  --host-record="app.netcon.test,$TARGET4,$TARGET6" --address=/wild.netcon.test/10.1.2.3
