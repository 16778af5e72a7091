# docker-test: what both runners share (sourced by test.sh). The suite table, selection by substring, the
# operator's steps (planet, network, authorization through the controller API), one suite's run, the results.
# A runner (lib/ns-runner.sh, lib/docker-runner.sh) provides:
#   rt_prepare                          before the first suite (images, the LAN, …)
#   rt_start NAME KIND BASE ARGS…       starts a "container" in the background; KIND is root, netcon or
#                                       monitor; the environment comes from the array CTR_ENV (NAME=VALUE);
#                                       ARGS go to the netcon entrypoint (network ids, then -- and the app)
#   rt_api NAME METHOD PATH [BODY]      the container's local API (ZEROTIER_API_SECRET), prints the body
#   rt_wait NAME SECONDS                waits for the container to exit; prints its exit code (or "timeout")
#   rt_stop NAME                        SIGTERM (as docker stop), then kills after a grace period; prints the exit code
#   rt_logs NAME                        its output
#   rt_path KIND WHAT                   paths as the container sees them: dt (the suite scripts), shared, results
#   rt_host ADDRESS_OF_ROOT             the root's physical address (for the planet)
#   rt_cleanup                          removes everything the runner made
# shellcheck shell=bash

DT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$DT_ROOT/.." && pwd)
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
DT_ROOT_BASE=${DT_ROOT_BASE:-trixie}

# name            folder   variant  Debian bases (Docker runner; the namespace runner uses the host's apps)
SUITES="
httpd             httpd    event    bookworm,trixie
httpd-prefork     httpd    prefork  bookworm,trixie
nginx             nginx    ipv4     bookworm,trixie
nginx-ipv6        nginx    ipv6     trixie
redis             redis    -        bookworm,trixie
python            python   -        trixie
node              node     -        trixie
sshd              sshd     -        trixie
dnsmasq           dnsmasq  -        trixie
zt1               zt1      -        trixie
"

now_ms() { date +%s%3N; }
say() { printf '[docker-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Rows "name folder variant base" of the suites whose "<name>.<base>.<arch>" contains $1.
# Bases: the listed ones (docker), or just the host's (ns).
select_runs() {
  local filter=$1 bases_mode=$2 name folder variant bases b
  while read -r name folder variant bases; do
    [ -n "$name" ] || continue
    if [ "$bases_mode" = host ]; then bases=$HOST_BASE; fi
    for b in ${bases//,/ }; do
      case "$name.$b.$ARCH" in *"$filter"*) echo "$name $folder $variant $b" ;; esac
    done
  done <<<"$SUITES"
}

HOST_BASE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-host}")

# --- the operator's steps -------------------------------------------------------------------------------------

# A fresh identity for the root, a planet naming it at $1 (ip/port), signed: files in $2.
make_planet() {
  local endpoint=$1 dir=$2
  "$REPO/zerotier-idtool" generate "$dir/root.secret" "$dir/root.public" >/dev/null
  "$REPO/zerotier-idtool" initplanet "$dir/root.public" "$endpoint" >"$dir/planet.json"
  (cd "$dir" && "$REPO/zerotier-idtool" genplanet planet.json planet >/dev/null)
  chmod 644 "$dir/planet"
}

# Polls the container's API until its node has an address; prints it.
node_address() {
  local name=$1 until=$(($(date +%s) + $2)) a
  while [ "$(date +%s)" -lt "$until" ]; do
    a=$(rt_api "$name" GET /status 2>/dev/null | jq -r '.address // empty' 2>/dev/null) || true
    if [ -n "$a" ]; then
      echo "$a"
      return 0
    fi
    rt_running "$name" || return 1
    sleep 0.3
  done
  return 1
}

# Creates a private network on the root's controller with IPv4 and IPv6 routes; prints its id.
create_network() {
  local sub=$1 body
  body=$(jq -nc --arg n "dt-$sub" --arg r4 "10.147.$sub.0/24" --arg r6 "fd47:$sub::/64" \
    '{name:$n, private:true, v4AssignMode:{zt:false}, v6AssignMode:{zt:false, rfc4193:false, "6plane":false},
      routes:[{target:$r4},{target:$r6}]}')
  rt_api root POST "/controller/network/${ROOT_ADDRESS}______" "$body" | jq -r .id
}

# Authorizes a member with fixed addresses, as an operator would (zerotier-cli on the controller, or its API).
authorize() {
  local nwid=$1 member=$2 ip4=$3 ip6=$4
  rt_api root POST "/controller/network/$nwid/member/$member" \
    "$(jq -nc --arg a "$ip4" --arg b "$ip6" '{authorized:true, ipAssignments:[$a,$b]}')" >/dev/null
}

# --- one suite ------------------------------------------------------------------------------------------------

SUMMARY=()
FAILED=0
SUITE_INDEX=0

# record RUNNER SUITE BASE RESULT FIGURE
record() {
  SUMMARY+=("$(printf '%-14s %-9s %-7s %-5s %s' "$2" "$3" "$1" "$4" "$5")")
  [ "$4" = OK ] || [ "$4" = SKIP ] || FAILED=1
}

# run_suite RUNNER NAME FOLDER VARIANT BASE
run_suite() {
  local runner=$1 name=$2 folder=$3 variant=$4 base=$5
  local tag="$name.$base.$ARCH" sub shared rc t0 nwid a_app a_mon figure result
  SUITE_INDEX=$((SUITE_INDEX + 1))
  sub=$((10 + SUITE_INDEX))
  shared="$RUN/shared/$name.$base"
  mkdir -p "$shared"
  chmod 1777 "$shared"
  rm -f "$RESULTS/OK.$tag" "$RESULTS/FAIL.$tag"
  if [ "$name" = zt1 ] && [ -z "${ZT_ONE_BIN:-}" ]; then
    say "SKIPPED zt1 ($runner): ZT_ONE_BIN is not set (a real ZeroTier One monitor needs its binary)"
    record "$runner" "$name" "$base" SKIP "ZT_ONE_BIN not set"
    return
  fi
  if [ "$name" = zt1 ] && [ "$runner" = docker ]; then
    say "SKIPPED zt1 (docker): with --network host the containers have only loopback paths, which ZeroTier One never uses; zt1 runs in the ns runner"
    record "$runner" "$name" "$base" SKIP "ns runner only"
    return
  fi
  say "=== $tag ($runner)"
  nwid=$(create_network "$sub") || { say "could not create the network"; record "$runner" "$name" "$base" FAIL "no network"; return; }
  local ip4app="10.147.$sub.10" ip6app="fd47:$sub::10" ip4mon="10.147.$sub.20" ip6mon="fd47:$sub::20"
  local app_port mon_port
  free_port app_port
  free_port mon_port
  local dtdir
  dtdir=$(rt_path netcon dt)
  local common=(SUITE="$name" VARIANT="$variant" BASE="$base" ARCH="$ARCH" RUNNER="$runner"
    DT="$dtdir" SHARED="$(rt_path netcon shared)/$name.$base" RESULTS="$(rt_path netcon results)"
    TARGET4="$ip4app" TARGET6="$ip6app" SELF4="$ip4mon" NETCON_WAIT_TIMEOUT=120)
  t0=$(now_ms)
  CTR_ENV=("${common[@]}" NETCON_PORT="$app_port" ZEROTIER_API_SECRET="$(secret)" T0="$t0")
  rt_start "app-$name-$base" netcon "$base" "$folder" "$nwid" -- "$dtdir/$folder/netcon_entrypoint.sh"
  if [ "$folder" = zt1 ]; then
    zt1_monitor_start "$name" "$base" "$nwid" "$ip4mon" "$shared" "$t0" || true
  else
    CTR_ENV=("${common[@]}" NETCON_PORT="$mon_port" ZEROTIER_API_SECRET="$(secret)" T0="$t0")
    rt_start "mon-$name-$base" monitor "$base" "$folder" "$nwid" -- "$dtdir/$folder/monitor_entrypoint.sh"
  fi
  a_app=$(node_address "app-$name-$base" 60) || say "no address from the app container"
  [ -n "$a_app" ] && authorize "$nwid" "$a_app" "$ip4app" "$ip6app"
  if [ "$folder" = zt1 ]; then
    zt1_authorize "$nwid" "$ip4mon" "$ip6mon"
    rc=$(zt1_monitor_wait "$name" "$base" "$shared" 300)
  else
    a_mon=$(node_address "mon-$name-$base" 60) || say "no address from the monitor container"
    [ -n "$a_mon" ] && authorize "$nwid" "$a_mon" "$ip4mon" "$ip6mon"
    say "members $a_app (app, $ip4app) and $a_mon (monitor, $ip4mon) authorized on $nwid"
    rc=timeout
    local until=$(($(date +%s) + 300))
    while [ "$(date +%s)" -lt "$until" ]; do
      if ! rt_running "mon-$name-$base"; then
        rc=$(rt_wait "mon-$name-$base" 5)
        break
      fi
      if ! rt_running "app-$name-$base"; then
        say "the app container exited before the monitor finished"
        rc="app exited"
        rt_stop "mon-$name-$base" >/dev/null
        break
      fi
      sleep 0.5
    done
  fi
  local app_rc
  app_rc=$(rt_stop "app-$name-$base")
  say "monitor exit: $rc; app container after SIGTERM: $app_rc"
  result=FAIL
  [ -f "$RESULTS/OK.$tag" ] && [ "$rc" = 0 ] && result=OK
  if [ "$result" = FAIL ] && [ ! -f "$RESULTS/FAIL.$tag" ]; then
    { echo "FAIL $tag ($runner): the monitor exited with $rc and wrote no result"; } >"$RESULTS/FAIL.$tag"
  fi
  if [ "$result" = FAIL ]; then
    {
      echo
      echo "--- app container output"
      rt_logs "app-$name-$base" | tail -n 80
      if [ "$folder" != zt1 ]; then
        echo "--- monitor container output"
        rt_logs "mon-$name-$base" | tail -n 80
      else
        echo "--- ZeroTier One and the monitor script"
        rt_logs "zt1-$name" | tail -n 80
      fi
    } >>"$RESULTS/FAIL.$tag" 2>&1
    say "FAIL $tag: see $RESULTS/FAIL.$tag"
  fi
  figure=$(cat "$shared/figure" 2>/dev/null || echo -)
  record "$runner" "$name" "$base" "$result" "$figure"
  [ "$folder" = zt1 ] || rt_remove "mon-$name-$base"
  rt_remove "app-$name-$base"
}

secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# free_port VAR: sets VAR to a free port on the host (TCP and UDP both unbound when probed), distinct within a
# run, below Linux's ephemeral range (32768-60999), where any program's outgoing connections could take it
# before the service binds it (seen: EADDRINUSE on a container's API port). It sets a variable rather than
# printing: called as $(free_port), its note of the ports handed out was lost with the subshell, so a suite's
# app and monitor got the same port (httpd-prefork.trixie: the monitor's service EADDRINUSE, its wait 401).
USED_PORTS=" "
free_port() {
  : "${1:?free_port VAR: give the name of the variable to set}"
  local free_port_p # not the caller's VAR's name
  for _ in $(seq 200); do
    free_port_p=$((20000 + RANDOM % 12000))
    case "$USED_PORTS" in *" $free_port_p "*) continue ;; esac
    if ! ss -Hlntu "sport = :$free_port_p" 2>/dev/null | grep -q .; then
      USED_PORTS="$USED_PORTS$free_port_p "
      printf -v "$1" '%s' "$free_port_p"
      return 0
    fi
  done
  return 1
}

print_summary() {
  echo
  printf '%-14s %-9s %-7s %-5s %s\n' suite base runner result "key figure"
  printf '%s\n' "-------------- --------- ------- ----- ----------------------------------------------"
  printf '%s\n' "${SUMMARY[@]}"
}
