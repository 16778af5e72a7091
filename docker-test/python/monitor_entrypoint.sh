#!/bin/sh
# python suite, the monitor: the index page, then the 10 MiB file with its MD5.
. "$DT/lib/monitor-lib.sh"
page() { curl -sS --max-time 10 "http://$TARGET4:8000/" | tee "$W/page" && grep -q 'welcome to python3' "$W/page"; }
wait_until 120 "python3 http.server" curl -sf --max-time 3 -o /dev/null "http://$TARGET4:8000/" &&
  { step "GET /" page && note "GET /: the welcome page" || fail "GET /"; } &&
  md5_fetch "GET /file.bin" "$(expected_md5)" "$W/file.bin" curl -sS --max-time 120 -o "$W/file.bin" "http://$TARGET4:8000/file.bin"
figure "up ${ANSWERED_S:-?} s; 10 MiB ${RATE:-?} MiB/s"
finish
