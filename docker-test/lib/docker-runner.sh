# docker-test, the runner with a Docker engine (sourced by test.sh). Real images (build.sh), every
# container `docker run --network host --cap-drop ALL --security-opt no-new-privileges` as the image's
# non-root user, no devices: the services talk over 127.0.0.1 on distinct ports (NETCON_PORT), the apps are
# under the intercept. The suite scripts are in the images (/dt); /shared and /results are volumes.
# shellcheck shell=bash

rt_prepare() {
  # Build what the selected suites need (cached layers make this seconds when nothing changed).
  ./build.sh "$filter" || return 1
  mkdir -p "$RUN/ctr"
}

rt_host() { echo 127.0.0.1; }

rt_path() {
  case $2 in
  dt) echo /dt ;;
  shared) echo /shared ;;
  results) echo /results ;;
  esac
}

dk_name() { echo "dt$$-$1"; }

rt_start() {
  local name=$1 kind=$2 base=$3 folder=$4 image
  shift 4
  case $kind in
  root) image="netcon:$base" ;;
  netcon) [ "$folder" = zt1 ] && folder=nginx; image="netcon-dt-$folder:$base" ;;
  monitor) image="netcon-dt-$folder-monitor:$base" ;;
  esac
  mkdir -p "$RUN/ctr/$name"
  printf '%s\n' "${CTR_ENV[@]}" >"$RUN/ctr/$name/env"
  local args=(-d --name "$(dk_name "$name")" --network host --cap-drop ALL --security-opt no-new-privileges
    -v "$RUN/planet:/etc/netcon-dt-planet:ro" -e NETCON_PLANET=/etc/netcon-dt-planet
    -v "$RUN/shared:/shared" -v "$RESULTS:/results")
  local e
  for e in "${CTR_ENV[@]}"; do args+=(-e "$e"); done
  docker run "${args[@]}" "$image" "$@" >/dev/null
}

rt_api() {
  local name=$1 method=$2 path=$3 body=${4:-} port token
  port=$(sed -n 's/^NETCON_PORT=//p' "$RUN/ctr/$name/env")
  token=$(sed -n 's/^ZEROTIER_API_SECRET=//p' "$RUN/ctr/$name/env")
  local args=(-sS -f --max-time 20 -X "$method" -H "X-ZT1-Auth: $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  curl "${args[@]}" "http://127.0.0.1:$port$path"
}

rt_running() {
  [ "$(docker inspect -f '{{.State.Running}}' "$(dk_name "$1")" 2>/dev/null)" = true ]
}

rt_wait() {
  local until=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$until" ]; do
    if ! rt_running "$1"; then
      docker inspect -f '{{.State.ExitCode}}' "$(dk_name "$1")"
      return 0
    fi
    sleep 0.3
  done
  echo timeout
}

rt_stop() {
  docker stop -t 15 "$(dk_name "$1")" >/dev/null 2>&1
  docker inspect -f '{{.State.ExitCode}}' "$(dk_name "$1")" 2>/dev/null
}

rt_logs() { docker logs "$(dk_name "$1")" 2>&1; }

rt_remove() { docker rm -f "$(dk_name "$1")" >/dev/null 2>&1 || true; }

rt_cleanup() {
  local ids
  ids=$(docker ps -aq --filter "name=^dt$$-")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  true
}
