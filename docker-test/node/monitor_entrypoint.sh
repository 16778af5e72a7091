#!/bin/sh
# node suite, the monitor: the welcome page, then 200 concurrent requests, all 200.
. "$DT/lib/monitor-lib.sh"
page() { curl -sS --max-time 10 "http://$TARGET4:3000/" | tee "$W/page" && grep -q 'Welcome to node on netcon' "$W/page"; }
wait_until 120 "node" curl -sf --max-time 3 -o /dev/null "http://$TARGET4:3000/" &&
  { step "GET /" page && note "GET /: the welcome page ($(sed -n 's|.*<p>\(.*\)</p>.*|node \1|p' "$W/page"))" || fail "GET /"; } &&
  ab_check "ab -n 200 -c 200" "http://$TARGET4:3000/"
figure "up ${ANSWERED_S:-?} s; 200 conc ${RPS:-?} req/s"
finish
