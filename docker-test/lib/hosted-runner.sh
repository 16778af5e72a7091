# docker-test, the runner with one host service for every app (sourced by test.sh; needs a Docker engine).
#
# As an operator runs many netcon containers on one machine with one service (issue 16; README "In a container",
# "One service for many containers"):
#   1. the node homes are pre-generated on every core: `zerotier-idtool generate-nodes <hostdir> <n>`, one per
#      app container, owned by the image's user (uid 9993);
#   2. one host container runs `zerotier-netcon-service --nodes /nodes` (the netcon image with NETCON_NODES=/nodes,
#      <hostdir> bind-mounted there): every node in one process, one UDP and API port;
#   3. every suite's app container starts at once, with its node's folder bind-mounted on /var/lib/zerotier-one and
#      NETCON_HOSTED=1: no service of its own (checked: none runs in it), its app under the intercept on
#      /var/lib/zerotier-one/nc_<nwid>; the harness authorizes the nodes by the addresses the folders are named by,
#      before anything starts, and waits until every node's network is OK through that node's own API (its
#      token, the host's port);
#   4. then each suite's monitor, a netcon container with its own service (an identity generated in step 1,
#      authorized in advance), checks its app over the virtual LAN with the same scripts and the same
#      OK./FAIL. results as the other runners (_results/hosted/); the host's memory is recorded while all the
#      apps run, and the apps are stopped with docker stop at the end.
# The root + controller container and the monitors are the Docker runner's (lib/docker-runner.sh).
# shellcheck shell=bash

. "$DT_ROOT/lib/docker-runner.sh"

HOSTED_UID=9993
HOSTED_PORT=""
HOSTED_TOKEN=""

# The API of a node the host runs, as its own tools reach it: the node's token, the host's port.
hosted_node_api() {
  local addr=$1 method=$2 path=$3 token
  token=$(cat "$RUN/nodes/$addr/authtoken.secret" 2>/dev/null) || return 1
  curl -sS -f --max-time 10 -X "$method" -H "X-ZT1-Auth: $token" "http://127.0.0.1:$HOSTED_PORT$path"
}

sec() { echo "$(($1 / 1000)).$((($1 % 1000) / 100))"; } # ms as seconds with one decimal

hosted_api() { # the host's own routes (GET /nodes), with the host's token
  curl -sS -f --max-time 10 -X "$2" -H "X-ZT1-Auth: $HOSTED_TOKEN" "http://127.0.0.1:$HOSTED_PORT$1"
}

# hosted_app_start NAME FOLDER BASE ADDRESS ARGS…: an app container of a hosted node (environment: CTR_ENV).
hosted_app_start() {
  local name=$1 folder=$2 base=$3 addr=$4
  shift 4
  mkdir -p "$RUN/ctr/$name"
  printf '%s\n' "${CTR_ENV[@]}" >"$RUN/ctr/$name/env"
  # No periodic HEALTHCHECK (every 10 s, two node processes, in each of the many app containers at once: a
  # load of its own on a small machine); hosted_check runs it once per app instead.
  local args=(-d --name "$(dk_name "$name")" --network host --cap-drop ALL --security-opt no-new-privileges
    --no-healthcheck -v "$RUN/nodes/$addr:/var/lib/zerotier-one" -e NETCON_HOSTED=1
    -v "$RUN/shared:/shared" -v "$RESULTS:/results")
  local e
  for e in "${CTR_ENV[@]}"; do args+=(-e "$e"); done
  docker run "${args[@]}" "netcon-dt-$folder:$base" "$@" >/dev/null
}

# The identity files of a generated home, as the environment of a container with its own service.
identity_env() {
  echo "ZEROTIER_IDENTITY_PUBLIC=$(cat "$1/identity.public")"
  echo "ZEROTIER_IDENTITY_SECRET=$(cat "$1/identity.secret")"
}

# hosted_run RUN…: every run ("name folder variant base"), apps at once on one host service, monitors in turn.
hosted_run() {
  local runs=() r
  for r in "$@"; do
    # shellcheck disable=SC2086
    set -- $r
    if [ "$2" = zt1 ]; then
      say "SKIPPED zt1 (hosted): a real ZeroTier One monitor needs non-loopback paths; zt1 runs in the ns runner"
      record hosted "$1" "$4" SKIP "ns runner only"
      continue
    fi
    runs+=("$r")
  done
  local n=${#runs[@]} t0 i
  [ "$n" -gt 0 ] || return 0

  # 1. Node homes for the apps, identities for the monitors: on every core.
  t0=$(now_ms)
  local apps mons
  mapfile -t apps < <("$REPO/zerotier-idtool" generate-nodes "$RUN/nodes" "$n" 2>"$RUN/generate-nodes.log")
  mapfile -t mons < <("$REPO/zerotier-idtool" generate-nodes "$RUN/monitors" "$n" 2>>"$RUN/generate-nodes.log")
  if [ ${#apps[@]} -ne "$n" ] || [ ${#mons[@]} -ne "$n" ]; then
    cat "$RUN/generate-nodes.log" >&2
    say "hosted: generate-nodes failed"
    record hosted "host-service" "$DT_ROOT_BASE" FAIL "generate-nodes failed"
    return
  fi
  chown -R "$HOSTED_UID:$HOSTED_UID" "$RUN/nodes"
  say "hosted: $((2 * n)) identities in $(($(now_ms) - t0)) ms ($(tail -1 "$RUN/generate-nodes.log" | sed 's/.*(\(.*\))$/\1/'))"

  # 2. The host service.
  free_port HOSTED_PORT
  HOSTED_TOKEN=$(secret)
  local host
  host=$(dk_name host)
  mkdir -p "$RUN/ctr/host"
  docker run -d --name "$host" --network host --cap-drop ALL --security-opt no-new-privileges \
    -v "$RUN/nodes:/nodes" -v "$RUN/planet:/etc/netcon-dt-planet:ro" -e NETCON_PLANET=/etc/netcon-dt-planet \
    -e NETCON_NODES=/nodes -e NETCON_PORT="$HOSTED_PORT" -e ZEROTIER_API_SECRET="$HOSTED_TOKEN" \
    "netcon:$DT_ROOT_BASE" >/dev/null

  # 3. Per suite: a network, both members authorized by their known addresses; then every app container at once.
  local nwids=() subs=() name folder variant base sub nwid
  for i in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    set -- ${runs[$i]}
    name=$1 folder=$2 variant=$3 base=$4
    SUITE_INDEX=$((SUITE_INDEX + 1))
    sub=$((10 + SUITE_INDEX))
    subs+=("$sub")
    mkdir -p "$RUN/shared/$name.$base"
    chmod 1777 "$RUN/shared/$name.$base"
    rm -f "$RESULTS/OK.$name.$base.$ARCH" "$RESULTS/FAIL.$name.$base.$ARCH"
    nwid=$(create_network "$sub") || nwid=""
    nwids+=("$nwid")
    [ -n "$nwid" ] || { say "hosted: could not create a network for $name.$base"; continue; }
    authorize "$nwid" "${apps[$i]}" "10.147.$sub.10" "fd47:$sub::10"
    authorize "$nwid" "${mons[$i]}" "10.147.$sub.20" "fd47:$sub::20"
  done
  local t_apps
  t_apps=$(now_ms)
  for i in "${!runs[@]}"; do
    [ -n "${nwids[$i]}" ] || continue
    # shellcheck disable=SC2086
    set -- ${runs[$i]}
    name=$1 folder=$2 variant=$3 base=$4 sub=${subs[$i]}
    CTR_ENV=(SUITE="$name" VARIANT="$variant" BASE="$base" ARCH="$ARCH" RUNNER=hosted DT=/dt
      SHARED="/shared/$name.$base" RESULTS=/results TARGET4="10.147.$sub.10" TARGET6="fd47:$sub::10"
      SELF4="10.147.$sub.20" NETCON_WAIT_TIMEOUT=180 T0="$t_apps")
    hosted_app_start "app-$name-$base" "$folder" "$base" "${apps[$i]}" "${nwids[$i]}" -- "/dt/$folder/netcon_entrypoint.sh" &
  done
  wait
  say "hosted: host service on 127.0.0.1/$HOSTED_PORT, $n app containers started in $(($(now_ms) - t_apps)) ms"

  # 4. Every app's network OK with its addresses, asked through each node's own API (token routing).
  local up=() until=$(($(date +%s) + 180)) left=0
  while :; do
    left=0
    for i in "${!runs[@]}"; do
      [ -n "${up[$i]:-}" ] && continue
      if [ -n "${nwids[$i]}" ] &&
        hosted_node_api "${apps[$i]}" GET "/network/${nwids[$i]}" 2>/dev/null |
        jq -e '.status == "OK" and (.assignedAddresses | length) > 0' >/dev/null 2>&1; then
        up[i]=$(($(now_ms) - t_apps))
      else
        left=$((left + 1))
      fi
    done
    [ "$left" -eq 0 ] && break
    [ "$(date +%s)" -lt "$until" ] || break
    sleep 0.5
  done
  local all_up_ms=$(($(now_ms) - t_apps))
  local nodes_json rss
  nodes_json=$(hosted_api /nodes GET 2>/dev/null) || nodes_json=""
  # The host service's resident memory with every app running (the process, as ps sees it in the container).
  rss=$(docker top "$host" -eo pid,rss,args 2>/dev/null | awk '/zerotier-netcon-service/ { print int($2 / 1024) " MB"; exit }')
  say "hosted: networks OK after (ms from the first app container's start): $(printf '%s\n' "${up[@]}" | sort -n | tr '\n' ' ')"
  if [ "$left" -eq 0 ]; then
    say "hosted: all $n apps' networks OK $(sec "$all_up_ms") s after their containers started; host service RSS ${rss:-?}"
    record hosted host-service "$DT_ROOT_BASE" OK "$n nodes in one service, RSS ${rss:-?}; all networks OK after $(sec "$all_up_ms") s"
  else
    say "hosted: $left of $n apps' networks not OK after 180 s"
    record hosted host-service "$DT_ROOT_BASE" FAIL "$left of $n networks not OK; host: $(echo "$nodes_json" | head -c 300)"
  fi

  # 5. The monitors, one suite after another, each a netcon container with its own service.
  for i in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    set -- ${runs[$i]}
    hosted_check "$1" "$2" "$3" "$4" "${subs[$i]}" "${nwids[$i]}" "${apps[$i]}" "${mons[$i]}"
  done

  # 6. The apps stop as with docker stop; then the host.
  for i in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    set -- ${runs[$i]}
    rt_remove "app-$1-$4"
  done
  docker stop -t 15 "$host" >/dev/null 2>&1
  docker logs "$host" >"$RUN/ctr/host/log" 2>&1
  say "hosted: host service stopped (exit $(docker inspect -f '{{.State.ExitCode}}' "$host" 2>/dev/null))"
}

# hosted_check NAME FOLDER VARIANT BASE SUB NWID APP_ADDRESS MONITOR_ADDRESS: one suite's monitor and result.
hosted_check() {
  local name=$1 folder=$2 variant=$3 base=$4 sub=$5 nwid=$6 a_app=$7 a_mon=$8
  local tag="$name.$base.$ARCH" app="app-$name-$base" mon="mon-$name-$base" rc result problem=""
  say "=== $tag (hosted: app node $a_app in the host service, monitor $a_mon)"
  if [ -z "$nwid" ]; then
    record hosted "$name" "$base" FAIL "no network"
    return
  fi
  # The app container runs no service (its node is the host's), and the image's health check says healthy.
  local top
  top=$(docker top "$(dk_name "$app")" -eo pid,args 2>&1)
  if ! grep -q 'netcon-entrypoint' <<<"$top"; then
    problem="cannot list the app container's processes: $top"
  elif grep -q 'zerotier-netcon-service' <<<"$top"; then
    problem="a zerotier-netcon-service runs in the app container: $top"
  elif ! docker exec "$(dk_name "$app")" netcon-entrypoint --health >/dev/null 2>&1; then
    problem="netcon-entrypoint --health fails in the app container"
  fi
  local mon_port
  free_port mon_port
  CTR_ENV=(SUITE="$name" VARIANT="$variant" BASE="$base" ARCH="$ARCH" RUNNER=hosted DT=/dt
    SHARED="/shared/$name.$base" RESULTS=/results TARGET4="10.147.$sub.10" TARGET6="fd47:$sub::10"
    SELF4="10.147.$sub.20" NETCON_WAIT_TIMEOUT=120 NETCON_PORT="$mon_port" ZEROTIER_API_SECRET="$(secret)"
    T0="$(now_ms)" DT_REDIS_REQUESTS=5000)
  local e
  while IFS= read -r e; do CTR_ENV+=("$e"); done < <(identity_env "$RUN/monitors/$a_mon")
  rt_start "$mon" monitor "$base" "$folder" "$nwid" -- "/dt/$folder/monitor_entrypoint.sh"
  rc=timeout
  local until=$(($(date +%s) + 300))
  while [ "$(date +%s)" -lt "$until" ]; do
    if ! rt_running "$mon"; then
      rc=$(rt_wait "$mon" 5)
      break
    fi
    if ! rt_running "$app"; then
      rc="app exited"
      rt_stop "$mon" >/dev/null
      break
    fi
    sleep 0.5
  done
  say "monitor exit: $rc"
  result=FAIL
  [ -f "$RESULTS/OK.$tag" ] && [ "$rc" = 0 ] && [ -z "$problem" ] && result=OK
  if [ "$result" = FAIL ]; then
    [ -f "$RESULTS/FAIL.$tag" ] || echo "FAIL $tag (hosted): the monitor exited with $rc and wrote no result" >"$RESULTS/FAIL.$tag"
    [ -f "$RESULTS/OK.$tag" ] && mv "$RESULTS/OK.$tag" "$RESULTS/FAIL.$tag"
    {
      [ -z "$problem" ] || echo "FAILED: $problem"
      echo
      echo "--- app container output"
      rt_logs "$app" | tail -n 80
      echo "--- monitor container output"
      rt_logs "$mon" | tail -n 80
      echo "--- host service output"
      docker logs "$(dk_name host)" 2>&1 | tail -n 80
    } >>"$RESULTS/FAIL.$tag" 2>&1
    say "FAIL $tag: see $RESULTS/FAIL.$tag"
  fi
  record hosted "$name" "$base" "$result" "$(cat "$RUN/shared/$name.$base/figure" 2>/dev/null || echo -)"
  rt_remove "$mon"
}
