#!/usr/bin/env bash
# container/make-base.sh <bookworm|trixie>: prints the name of a Debian base image for container/Dockerfile's
# BASE (and BUILD_BASE), making it when Docker has none:
#   debian:<suite>        when Docker already has it (pulled from Docker Hub, say): used as it is;
#   netcon-base:<suite>   otherwise: `debootstrap --variant=minbase <suite>` from the Debian archive this
#                         machine's apt uses (scripts/apt-archive.sh; never written in a committed file),
#                         cached as a tarball in .cache/bases/ (git-ignored; NETCON_BASE_CACHE moves it), then
#                         `docker import`ed. Needs root (debootstrap) and about 1-2 minutes once per suite;
#                         later runs import the cached tarball in seconds, or find the image.
# Safe to run concurrently (one lock per suite).
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-}
case $suite in
bookworm | trixie) ;;
*)
  echo "usage: container/make-base.sh <bookworm|trixie>" >&2
  exit 2
  ;;
esac
command -v docker >/dev/null || { echo "make-base: no docker client" >&2; exit 1; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
if have "debian:$suite"; then
  echo "debian:$suite"
  exit 0
fi
name=netcon-base:$suite
cache=${NETCON_BASE_CACHE:-$PWD/.cache/bases}
mkdir -p "$cache"
exec 9>"$cache/$suite.lock"
flock 9
if have "$name"; then
  echo "$name"
  exit 0
fi
tarball=$cache/$suite.tar
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "make-base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  mirror=$(bash scripts/apt-archive.sh)
  dir=$(mktemp -d "$cache/$suite.XXXXXX")
  trap 'rm -rf "$dir" "$tarball.new"' EXIT
  echo "make-base: debootstrap --variant=minbase $suite from $mirror (1-2 minutes; log in $cache/$suite.log)" >&2
  if ! debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$cache/$suite.log" 2>&1; then
    tail -20 "$cache/$suite.log" >&2
    echo "make-base: debootstrap $suite failed" >&2
    exit 1
  fi
  # What an image does not need: downloaded packages, apt lists (a Dockerfile runs apt-get update first).
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/debootstrap
  chmod 755 "$dir" # mktemp made it 0700: it becomes the image's /
  tar -C "$dir" --numeric-owner -cf "$tarball.new" .
  mv "$tarball.new" "$tarball"
fi
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  --message "debootstrap --variant=minbase $suite" \
  "$tarball" "$name" >/dev/null
echo "$name"
