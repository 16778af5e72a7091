#!/bin/sh
# redis suite, the app: redis-server in the foreground, unmodified, under the intercept, on all of the
# node's addresses on the network (IPv4 and IPv6), no persistence.
set -eu
W=/tmp/dt/redis
mkdir -p "$W"
exec /usr/bin/redis-server --port 6379 --bind '0.0.0.0 ::' --protected-mode no --save '' --appendonly no --dir "$W"
