#!/usr/bin/env bash
# docker-test/build.sh [SUBSTRING]: builds the Docker images of the suites whose "<suite>.<base>.<arch>"
# contains SUBSTRING (all by default), and what they stand on:
#   netcon:<base>                  the netcon image (container/build-images.sh: container/Dockerfile on
#                                  container/make-base.sh's base); DT_NETCON_IMAGES=keep: the existing ones
#   netcon-dt-apps:<base>          common/apps_dockerfile: the apps and the checking tools, one apt layer
#   netcon-dt-<suite>:<base>       <suite>/netcon_dockerfile: the app container
#   netcon-dt-<suite>-monitor:<base>  <suite>/monitor_dockerfile: the monitor container
# Builds use the host's network (docker build --network host). Needs a Docker engine (DOCKER_HOST as usual).
set -euo pipefail
cd "$(dirname "$0")"
filter="${1:-}"
. lib/common.sh

t_start=$(date +%s)
mapfile -t runs < <(select_runs "$filter" listed)
[ ${#runs[@]} -gt 0 ] || { say "build: no suite matches '$filter'"; exit 0; }
bases=$(printf '%s\n' "${runs[@]}" | awk '{ print $4 }' | sort -u)
# The root + controller runs on the netcon image of DT_ROOT_BASE.
bases=$(printf '%s\n' $bases "$DT_ROOT_BASE" | sort -u)

quiet_build() { # quiet_build TAG docker-build-args…: the build's output only when it fails
  local tag=$1 log t0
  shift
  t0=$(date +%s)
  log=$(mktemp)
  if ! docker build --network host -t "$tag" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "build: $tag FAILED"
    return 1
  fi
  rm -f "$log"
  say "build: $tag ($(($(date +%s) - t0)) s)"
}

# The netcon images come from this checkout: container/build-images.sh every time (Docker's cache makes it
# seconds when nothing changed; stale images would test old code). DT_NETCON_IMAGES=keep uses the ones there.
if [ "${DT_NETCON_IMAGES:-}" = keep ]; then
  for base in $bases; do
    docker image inspect "netcon:$base" >/dev/null 2>&1 || { say "build: no netcon:$base (DT_NETCON_IMAGES=keep)"; exit 1; }
  done
else
  # shellcheck disable=SC2086
  "$REPO/container/build-images.sh" $bases >&2
fi
for base in $bases; do
  user=$(docker image inspect -f '{{.Config.User}}' "netcon:$base")
  quiet_build "netcon-dt-apps:$base" -f common/apps_dockerfile --build-arg "NETCON_IMAGE=netcon:$base" \
    --build-arg "NETCON_USER=${user:-root}" .
done
for folder_base in $(printf '%s\n' "${runs[@]}" | awk '{ print $2 "." $4 }' | sort -u); do
  folder=${folder_base%.*}
  base=${folder_base##*.}
  [ "$folder" = zt1 ] && continue # its monitor is ZeroTier One in a namespace of the harness, never an image
  quiet_build "netcon-dt-$folder:$base" -f "$folder/netcon_dockerfile" --build-arg "BASE=$base" .
  quiet_build "netcon-dt-$folder-monitor:$base" -f "$folder/monitor_dockerfile" --build-arg "BASE=$base" .
done
say "build: done in $(($(date +%s) - t_start)) s"
