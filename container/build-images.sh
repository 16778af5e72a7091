#!/usr/bin/env bash
# container/build-images.sh [bookworm|trixie ...]: builds the netcon images netcon:<suite> (default: both) from
# this checkout, with base images from container/make-base.sh (debian:<suite>, else a debootstrapped one) and
# one bookworm builder stage shared through Docker's build cache. Prints each image's build time and size;
# the build's output goes to .cache/container-build-<suite>.log (its tail on failure). Needs a Docker engine
# (DOCKER_HOST; scripts/docker-engine.sh starts one).
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
mkdir -p .cache
# The certificates this machine trusts, for the builder's npm (container/Dockerfile; git-ignored).
ca=$(npm config get cafile 2>/dev/null || true)
[ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "$ca" ] && ! cmp -s "$ca" container/build-ca.crt; then cp "$ca" container/build-ca.crt; fi
build_base=$(container/make-base.sh bookworm)
for s in "${suites[@]}"; do
  base=$(container/make-base.sh "$s")
  log=.cache/container-build-$s.log
  t0=$(date +%s)
  if ! docker build --network host -f container/Dockerfile -t "netcon:$s" \
    --build-arg BASE="$base" --build-arg BUILD_BASE="$build_base" . >"$log" 2>&1; then
    tail -30 "$log" >&2
    echo "container: building netcon:$s failed (log: $log)" >&2
    exit 1
  fi
  size=$(docker image inspect -f '{{.Size}}' "netcon:$s")
  echo "container: netcon:$s (FROM $base) built in $(($(date +%s) - t0)) s, $((size / 1000000)) MB"
done
