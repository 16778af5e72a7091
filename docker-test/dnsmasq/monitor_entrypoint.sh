#!/bin/sh
# dnsmasq suite, the monitor: DNS queries (UDP) with dig, under the intercept, to the member's address.
. "$DT/lib/monitor-lib.sh"
q() { # q NAME TYPE WANT
  _a=$(dig +short +time=2 +tries=1 @"$TARGET4" "$1" "$2")
  echo "$1 $2 -> $_a"
  [ "$_a" = "$3" ]
}
timed() {
  _t=$(now_ms)
  for _ in $(seq 100); do dig +short +time=2 +tries=1 @"$TARGET4" app.netcon.test A >/dev/null || return 1; done
  QMS=$(( ($(now_ms) - _t) / 100 ))
  echo "100 queries, $QMS ms each"
}
wait_until 120 "dnsmasq" q app.netcon.test A "$TARGET4" &&
  { step "A app.netcon.test" q app.netcon.test A "$TARGET4" &&
    step "AAAA app.netcon.test" q app.netcon.test AAAA "$TARGET6" &&
    step "A x.wild.netcon.test" q x.wild.netcon.test A 10.1.2.3 &&
    step "dig full answer" dig +time=2 +tries=1 @"$TARGET4" app.netcon.test A &&
    note "dig: A and AAAA for app.netcon.test and a wildcard name answered by dnsmasq over UDP" || fail "DNS answers"; } &&
  { timed >"$W/timed" 2>&1 && note "$(cat "$W/timed") (dig process start included)" || fail "100 queries"; }
figure "up ${ANSWERED_S:-?} s; dig ${QMS:-?} ms/query incl. process start"
finish
