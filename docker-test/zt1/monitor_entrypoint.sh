#!/bin/sh
# zt1 suite, the monitor: a real ZeroTier One (ZT_ONE_BIN) with a kernel tap, in a network namespace of the
# harness's own on the runner's LAN (ZeroTier One never uses loopback paths). The harness starts it, joins
# and authorizes it, and runs this script in that namespace once the tap has its address: curl and ab run
# on the kernel's stack, through the tap, with no intercept, against nginx under netcon's intercept.
. "$DT/lib/monitor-lib.sh"
note "ZeroTier One: $ZT_ONE_VERSION; tap $(ip -o -4 addr show | awk '/10\.147\./ { print $2 " " $4 }')"
wait_until 120 "nginx (from ZeroTier One's tap)" curl -sf --max-time 3 -o /dev/null "http://$TARGET4/" &&
  md5_fetch "GET /file.bin" "$(expected_md5)" "$W/file.bin" curl -sS --max-time 120 -o "$W/file.bin" "http://$TARGET4/file.bin" &&
  ab_check "ab -n 200 -c 200" "http://$TARGET4/index.html"
figure "ZeroTier One $ZT_ONE_VERSION tap; 10 MiB ${RATE:-?} MiB/s; 200 conc ${RPS:-?} req/s"
finish
