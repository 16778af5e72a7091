#!/bin/sh
# dnsmasq suite, the app: dnsmasq in the foreground, unmodified, under the intercept: a UDP service answering
# for names it serves (netcon.test), nothing forwarded. It binds the node's addresses on the network
# (--bind-interfaces, --listen-address): dnsmasq's wildcard socket needs IP_PKTINFO on every datagram, which
# the intercept does not provide (intercept/RPC.md), so it would drop every query.
set -eu
W=/tmp/dt/dnsmasq
mkdir -p "$W"
exec /usr/sbin/dnsmasq --keep-in-foreground --log-queries --log-facility=- --conf-file=/dev/null \
  --no-resolv --no-hosts --port 53 \
  --bind-interfaces --listen-address="$TARGET4" --listen-address="$TARGET6" --user="$(id -un)" --pid-file="$W/dnsmasq.pid" \
  --host-record="app.netcon.test,$TARGET4,$TARGET6" --address=/wild.netcon.test/10.1.2.3
