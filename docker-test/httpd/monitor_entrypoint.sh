#!/bin/sh
# httpd suite, the monitor: the 10 MiB file with its MD5, then 200 concurrent requests, all 200.
. "$DT/lib/monitor-lib.sh"
wait_until 120 "httpd ($VARIANT MPM)" curl -sf --max-time 3 -o /dev/null "http://$TARGET4/" &&
  md5_fetch "GET /file.bin" "$(expected_md5)" "$W/file.bin" curl -sS --max-time 120 -o "$W/file.bin" "http://$TARGET4/file.bin" &&
  ab_check "ab -n 200 -c 200" "http://$TARGET4/index.html"
figure "$VARIANT; up ${ANSWERED_S:-?} s; 10 MiB ${RATE:-?} MiB/s; 200 conc ${RPS:-?} req/s"
finish
