# docker-test: what the monitor scripts share (sourced; POSIX sh). The monitor runs as the app of a second
# netcon node, so every tool it starts (curl, ab, redis-cli, ssh, dig) goes through the intercept.
# Environment from the harness: SUITE VARIANT BASE ARCH RUNNER SHARED RESULTS TARGET4 TARGET6 T0.
# Writes $RESULTS/OK.<suite>.<base>.<arch> or FAIL.…: the formatted lines first, then the raw output of
# every step; $SHARED/figure holds the key figure for the summary table.
# shellcheck shell=sh

TAG="$SUITE.$BASE.$ARCH"
W=/tmp/dt-monitor
mkdir -p "$W"
RAW="$W/raw"
FMT="$W/formatted"
: >"$RAW"
: >"$FMT"
STATUS=OK

now_ms() { date +%s%3N; }
note() { echo "$*" >>"$FMT"; echo "monitor: $*" >&2; }
fail() { STATUS=FAIL; note "FAILED: $*"; }
figure() { echo "$*" >"$SHARED/figure"; }

# step NAME CMD…: runs CMD, its output into the raw dump; returns its status.
step() {
  _name=$1
  shift
  echo "=== $_name: $*" >>"$RAW"
  "$@" >>"$RAW" 2>&1
  _rc=$?
  echo "=== exit $_rc" >>"$RAW"
  return $_rc
}

# wait_until SECONDS WHAT CMD…: polls CMD until it succeeds; notes how long after the app container's start
# (T0) the app first answered over the virtual LAN.
wait_until() {
  _until=$(($(date +%s) + $1))
  _what=$2
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$_until" ]; then
      fail "$_what did not answer within the deadline"
      return 1
    fi
    sleep 0.2
  done
  ANSWERED_S=$(awk -v a="$(now_ms)" -v b="$T0" 'BEGIN { printf "%.1f", (a - b) / 1000 }')
  note "$_what answered ${ANSWERED_S} s after the app container started"
}

# md5_fetch NAME EXPECTED_MD5 FILE CMD…: runs CMD (which writes FILE), compares the MD5, notes the rate.
md5_fetch() {
  _name=$1 _want=$2 _file=$3
  shift 3
  _t0=$(now_ms)
  if ! step "$_name" "$@"; then
    fail "$_name: the transfer failed"
    return 1
  fi
  _ms=$(($(now_ms) - _t0))
  _got=$(md5sum <"$_file" | cut -d' ' -f1)
  _bytes=$(stat -c %s "$_file")
  RATE=$(awk -v b="$_bytes" -v ms="$_ms" 'BEGIN { printf "%.1f", b / 1048576 / (ms > 0 ? ms : 1) * 1000 }')
  if [ "$_got" = "$_want" ]; then
    note "$_name: $_bytes bytes in $_ms ms ($RATE MiB/s), MD5 equal ($_got)"
  else
    fail "$_name: MD5 $_got, expected $_want ($_bytes bytes)"
    return 1
  fi
}

# ab_check NAME URL: 200 concurrent requests (ab -n 200 -c 200), all must complete with status 200.
ab_check() {
  _name=$1 _url=$2
  if ! step "$_name" ab -q -s 60 -n 200 -c 200 "$_url"; then
    fail "$_name: ab failed"
    return 1
  fi
  _out=$(sed -n '/=== '"$_name"': /,/=== exit/p' "$RAW")
  _complete=$(echo "$_out" | sed -n 's/^Complete requests: *//p')
  _failed=$(echo "$_out" | sed -n 's/^Failed requests: *//p')
  _non2xx=$(echo "$_out" | sed -n 's/^Non-2xx responses: *//p')
  RPS=$(echo "$_out" | sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p')
  if [ "$_complete" = 200 ] && [ "$_failed" = 0 ] && [ -z "$_non2xx" ]; then
    note "$_name: 200 concurrent requests, all 200 ($RPS requests/s)"
  else
    fail "$_name: complete $_complete, failed $_failed, non-2xx ${_non2xx:-0}"
    return 1
  fi
}

# The expected MD5 the app container wrote into the shared folder (it may still be writing it).
expected_md5() {
  for _ in $(seq 300); do
    if [ -s "$SHARED/expected.md5" ]; then
      cat "$SHARED/expected.md5"
      return 0
    fi
    sleep 0.2
  done
  return 1
}

finish() {
  _out="$RESULTS/$STATUS.$TAG"
  {
    echo "$STATUS $TAG (runner: $RUNNER, variant: $VARIANT)"
    cat "$FMT"
    echo
    echo "--- raw output"
    cat "$RAW"
  } >"$_out.tmp"
  mv "$_out.tmp" "$_out"
  echo "monitor: $STATUS, written to $_out" >&2
  [ "$STATUS" = OK ]
  exit $?
}
