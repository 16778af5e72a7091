#!/bin/sh
# nginx suite, the monitor: the 10 MiB file with its MD5, 20 requests on one keep-alive connection, then
# 200 concurrent requests, all 200. VARIANT ipv6: everything over the app's IPv6 address.
. "$DT/lib/monitor-lib.sh"
if [ "$VARIANT" = ipv6 ]; then HOST="[$TARGET6]"; else HOST=$TARGET4; fi
keepalive() {
  # curl reuses one connection for URLs on one command line; -w prints how many new connections it made.
  set -- $(seq 20 | sed "s|.*|http://$HOST/index.html|")
  n=$(curl -sS --max-time 30 -o /dev/null -w '%{num_connects}\n' "$@" | awk '{ s += $1 } END { print s }')
  echo "20 requests over $n new connection(s)"
  [ "$n" = 1 ]
}
wait_until 120 "nginx" curl -sf --max-time 3 -o /dev/null "http://$HOST/" &&
  md5_fetch "GET /file.bin" "$(expected_md5)" "$W/file.bin" curl -sS --max-time 120 -o "$W/file.bin" "http://$HOST/file.bin" &&
  { step "keep-alive" keepalive && note "keep-alive: 20 requests over one connection" || fail "keep-alive"; } &&
  ab_check "ab -n 200 -c 200" "http://$HOST/index.html"
figure "$VARIANT; up ${ANSWERED_S:-?} s; 10 MiB ${RATE:-?} MiB/s; 200 conc ${RPS:-?} req/s"
finish
