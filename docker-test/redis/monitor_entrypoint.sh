#!/bin/sh
# redis suite, the monitor: SET/GET/EVAL (the original check), PING over IPv6, then redis-benchmark -q,
# its figures in the result (DT_REDIS_REQUESTS requests per test, default 20000; the hosted runner runs 5000).
. "$DT/lib/monitor-lib.sh"
R="redis-cli -h $TARGET4 -p 6379"
expect() { # expect WANT CMD…
  _want=$1
  shift
  _got=$("$@")
  echo "$_got"
  [ "$_got" = "$_want" ]
}
bench() {
  redis-benchmark -h "$TARGET4" -p 6379 -q -n "${DT_REDIS_REQUESTS:-20000}" -t ping,set,get,incr,lpush,lpop | tr '\r' '\n' |
    grep 'requests per second' | tee "$W/bench"
}
if wait_until 120 "redis-server" $R PING; then
  step "SET" expect OK $R SET netcon works && step "GET" expect works $R GET netcon &&
    step "EVAL" expect 'works!' $R EVAL "return redis.call('get', KEYS[1]) .. ARGV[1]" 1 netcon '!' &&
    step "PING over IPv6" expect PONG redis-cli -h "$TARGET6" -p 6379 PING &&
    note "SET/GET/EVAL and PING over IPv6 answered as expected" || fail "SET/GET/EVAL"
  if step "redis-benchmark -q -n ${DT_REDIS_REQUESTS:-20000}" bench && [ "$(wc -l <"$W/bench")" -ge 6 ]; then
    while read -r line; do note "redis-benchmark: $line"; done <"$W/bench"
  else
    fail "redis-benchmark"
  fi
fi
SET=$(sed -n 's/^SET: \([0-9.]*\) requests.*/\1/p' "$W/bench" 2>/dev/null)
GET=$(sed -n 's/^GET: \([0-9.]*\) requests.*/\1/p' "$W/bench" 2>/dev/null)
figure "up ${ANSWERED_S:-?} s; SET ${SET:-?}/s GET ${GET:-?}/s"
finish
