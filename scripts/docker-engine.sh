#!/usr/bin/env bash
# A Docker engine for the tests on a machine that has none running (CI, our development machines).
#   eval "$(scripts/docker-engine.sh start)"   prints DOCKER_HOST=... for an engine that answers: the one the
#                                              environment already names, else a dockerd of our own
#   scripts/docker-engine.sh stop              stops the dockerd that `start` started (by its pid file)
# Our dockerd: Debian's docker.io (installed, with debootstrap, when missing; root needed), started with
# --bridge=none --iptables=false --ip-masq=false (no docker0 bridge, no private-range addresses, no firewall
# rules on the host), its own --data-root, --exec-root, pid file and socket /run/netcon-docker-<name>.sock;
# containers then use --network host. NETCON_DOCKER_NAME sets <name> (default: ci). Exits 1 (with a reason on
# stderr) when no engine can run here; callers then skip what needs Docker.
set -euo pipefail
name=${NETCON_DOCKER_NAME:-ci}
sock=/run/netcon-docker-$name.sock
pidfile=/run/netcon-docker-$name.pid
data=/var/lib/netcon-docker-$name
log=/var/log/netcon-docker-$name.log
say() { echo "docker-engine: $*" >&2; }

case ${1:-} in
start)
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    echo "DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}"
    exit 0
  fi
  if [ -S "$sock" ] && DOCKER_HOST=unix://$sock timeout 10 docker info >/dev/null 2>&1; then
    echo "DOCKER_HOST=unix://$sock"
    exit 0
  fi
  [ "$(id -u)" = 0 ] || { say "not root: cannot install or start dockerd"; exit 1; }
  missing=()
  for p in docker.io debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
      { say "could not install ${missing[*]}"; exit 1; }
  fi
  command -v dockerd >/dev/null || { say "no dockerd"; exit 1; }
  mkdir -p "$data"
  setsid dockerd --bridge=none --iptables=false --ip-masq=false --data-root "$data" --exec-root "/run/netcon-docker-$name" \
    --pidfile "$pidfile" --host "unix://$sock" </dev/null >"$log" 2>&1 &
  for _ in $(seq 1 120); do
    if DOCKER_HOST=unix://$sock docker info >/dev/null 2>&1; then
      echo "DOCKER_HOST=unix://$sock"
      exit 0
    fi
    kill -0 $! 2>/dev/null || break
    sleep 0.5
  done
  say "dockerd did not come up (log: $log):"
  tail -5 "$log" >&2
  [ ! -f "$pidfile" ] || kill "$(cat "$pidfile")" 2>/dev/null || true
  exit 1
  ;;
stop)
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.5
  done
  say "dockerd $pid did not stop in 30 s"
  exit 1
  ;;
*)
  echo "usage: scripts/docker-engine.sh start|stop" >&2
  exit 2
  ;;
esac
