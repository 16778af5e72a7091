# docker-test, the runner without a Docker engine (sourced by test.sh; needs root).
#
# Each "container" is a process tree in its own network, mount and PID namespace, over its own home, running
# the same entrypoint scripts as the images, with the host's installed apps, as a non-root user (uid 9993,
# "netcon", as in the images):
#   - network: its own namespace with one veth into a "LAN" namespace that holds a bridge (what Docker's
#     default bridge network is). The containers reach the root over UDP on that LAN; nothing is added to
#     the host's own network, and an app whose socket calls leaked past the intercept could reach only
#     these namespaces (its checks target ZeroTier addresses, which exist only inside netcon's stacks, so a
#     leak fails the check instead of faking a pass). Why not the host's namespace with only the app
#     unshared: then the "container" would not be one (its service shares the host's ports), and a real
#     ZeroTier One monitor (zt1) needs a non-loopback path anyway: it joins the same LAN.
#   - mount: private /tmp and /run (tmpfs), and /etc/passwd + /etc/group with the "netcon" user added,
#     bind-mounted for this container only (the host's files are untouched).
#   - PID: the netcon entrypoint is PID 1, as in `docker run`; SIGTERM to it is `docker stop`. And its own
#     session (setsid), as in Docker: Apache's prefork MPM, stopping, sends SIGTERM to its whole process
#     group, which otherwise is the harness's (it stopped the root container).
# shellcheck shell=bash

NS_UID=9993
NS_LAN=""
NS_NET=""
NS_INDEX=1
NS_ENTRYPOINT=""

rt_prepare() {
  if [ "$(id -u)" != 0 ]; then
    say "the namespace runner needs root (network namespaces, veth pairs)"
    return 1
  fi
  NS_ENTRYPOINT=${NETCON_ENTRYPOINT:-$REPO/container/entrypoint.sh}
  [ -x "$NS_ENTRYPOINT" ] || { say "no entrypoint at $NS_ENTRYPOINT"; return 1; }
  [ -f "$REPO/libzerotierintercept.so" ] && [ -d "$REPO/dist" ] || { say "run ./build.sh first"; return 1; }
  # The non-root user must be able to read the build and the suite scripts.
  NS_LAN="dt$$lan"
  NS_NET="172.30.$((RANDOM % 250 + 1))"
  ip netns add "$NS_LAN"
  ip -n "$NS_LAN" link set lo up
  ip -n "$NS_LAN" link add br0 type bridge
  ip -n "$NS_LAN" link set br0 up
  mkdir -p "$RUN/ctr"
  chmod 755 "$RUN" "$RUN/ctr"
}

# ns_private_tmp FOLDER: the shell commands (for a fresh mount namespace) that put an empty tmpfs on /tmp while
# the places a container runs from stay visible at the same paths when they lie under /tmp (a checkout in /tmp:
# a bare tmpfs hid the repository, and every container failed with "entrypoint.sh: No such file or
# directory"): the repository, NETCON_ENTRYPOINT's and NETCON_PREFIX's folders, ZT_ONE_BIN's folder. The host's
# /tmp is held at FOLDER/hosttmp (outside /tmp) while they are bind-mounted back, then let go.
ns_private_tmp() {
  local keep=$1/hosttmp p seen=" " out
  out="mkdir -p '$keep' && mount --rbind /tmp '$keep' && mount -t tmpfs -o mode=1777 tmpfs /tmp"
  for p in "$REPO" "$(dirname "${NETCON_ENTRYPOINT:-$REPO/x}")" "${NETCON_PREFIX:-$REPO}" \
    "$(dirname "${ZT_ONE_BIN:-$REPO/x}")"; do
    p=$(realpath -m "$p")
    case $seen in *" $p "*) continue ;; esac
    seen+="$p "
    case $p in /tmp/?*) out+=" && mkdir -p '$p' && mount --bind '$keep/${p#/tmp/}' '$p'" ;; esac
  done
  echo "$out && umount -l '$keep'"
}

rt_host() { echo "$NS_NET.1"; } # the root is the first container on the LAN

rt_path() {
  case $2 in
  dt) echo "$DT_ROOT" ;;
  shared) echo "$RUN/shared" ;;
  results) echo "$RESULTS" ;;
  esac
}

ns_name() { echo "dt$$-$1"; }

# rt_start NAME KIND BASE FOLDER ARGS…
rt_start() {
  local name=$1 kind=$2 folder=$4 ns dir idx
  shift 4
  ns=$(ns_name "$name")
  dir="$RUN/ctr/$name"
  idx=$NS_INDEX
  NS_INDEX=$((NS_INDEX + 1))
  mkdir -p "$dir/home" "$dir/user"
  chown "$NS_UID:$NS_UID" "$dir/home" "$dir/user"
  chmod 700 "$dir/home"
  chmod 755 "$dir"
  echo "$idx" >"$dir/index"
  printf '%s\n' "${CTR_ENV[@]}" >"$dir/env"
  # The container's network: its namespace, a veth into the LAN's bridge, address .<idx>.
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$NS_LAN" link add "v$idx" type veth peer name eth0 netns "$ns"
  ip -n "$NS_LAN" link set "v$idx" master br0 up
  ip -n "$ns" addr add "$NS_NET.$idx/24" dev eth0
  ip -n "$ns" link set eth0 up
  # Its user: "netcon" added to copies of the host's passwd and group, bind-mounted inside only.
  grep -v "^netcon:" /etc/passwd >"$dir/passwd"
  echo "netcon:x:$NS_UID:$NS_UID:netcon:$dir/user:/bin/sh" >>"$dir/passwd"
  grep -v "^netcon:" /etc/group >"$dir/group"
  echo "netcon:x:$NS_UID:" >>"$dir/group"
  local env=(PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$dir/user" USER=netcon LANG=C.UTF-8
    ZEROTIER_HOME="$dir/home" NETCON_PLANET="$RUN/planet" "${CTR_ENV[@]}")
  [ -n "${NETCON_PREFIX:-}" ] && env+=(NETCON_PREFIX="$NETCON_PREFIX")
  # The output file belongs to the container's user: programs reopen /proc/self/fd/2 (Apache's ErrorLog).
  : >"$dir/log"
  chown "$NS_UID:$NS_UID" "$dir/log"
  local q
  q=$(printf '%q ' "${env[@]}")
  local args=""
  [ $# -eq 0 ] || args=$(printf '%q ' "$@")
  (
    ip netns exec "$ns" unshare --mount --pid --fork --kill-child --mount-proc --propagation private -- sh -c "
      $(ns_private_tmp "$dir") &&
      mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p -m 755 /run/sshd &&
      mount --bind '$dir/passwd' /etc/passwd && mount --bind '$dir/group' /etc/group || exit 125
      cd '$dir/user'
      exec setsid setpriv --reuid=$NS_UID --regid=$NS_UID --clear-groups --inh-caps=-all -- env -i $q '$NS_ENTRYPOINT' $args
    " >>"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    wait $!
    echo $? >"$dir/exit"
  ) &
  # Wait until the pid file is written, so that rt_stop can find the process.
  for _ in $(seq 100); do [ -s "$dir/pid" ] && break; sleep 0.05; done
}

# PID 1 of the container's PID namespace, as the host sees it.
ns_init_pid() {
  local pid
  pid=$(cat "$RUN/ctr/$1/pid" 2>/dev/null) || return 1
  cut -d' ' -f1 </proc/"$pid"/task/"$pid"/children 2>/dev/null
}

rt_api() {
  local name=$1 method=$2 path=$3 body=${4:-} dir="$RUN/ctr/$1" port token
  port=$(ctr_env_value "$name" NETCON_PORT)
  token=$(ctr_env_value "$name" ZEROTIER_API_SECRET)
  local args=(-sS -f --max-time 20 -X "$method" -H "X-ZT1-Auth: $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  ip netns exec "$(ns_name "$name")" curl "${args[@]}" "http://127.0.0.1:$port$path"
}

# The harness remembers each container's environment (port, API secret) in its folder.
ctr_env_value() { sed -n "s/^$2=//p" "$RUN/ctr/$1/env" 2>/dev/null | head -1; }

rt_wait() {
  local dir="$RUN/ctr/$1" until=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$until" ]; do
    if [ -s "$dir/exit" ]; then
      cat "$dir/exit"
      return 0
    fi
    sleep 0.3
  done
  echo timeout
}

rt_stop() {
  local dir="$RUN/ctr/$1" init
  [ -s "$dir/pid" ] || return 0 # not a container (zt1's namespace)
  if [ ! -s "$dir/exit" ]; then
    init=$(ns_init_pid "$1") && kill -TERM "$init" 2>/dev/null
    local rc
    rc=$(rt_wait "$1" 15)
    if [ "$rc" = timeout ]; then
      init=$(ns_init_pid "$1") && kill -KILL "$init" 2>/dev/null
      rt_wait "$1" 10 >/dev/null
      echo "killed"
      return
    fi
  fi
  cat "$dir/exit"
}

rt_running() { [ ! -s "$RUN/ctr/$1/exit" ]; }

rt_logs() { cat "$RUN/ctr/$1/log" 2>/dev/null; }

rt_remove() {
  rt_stop "$1" >/dev/null
  ip netns del "$(ns_name "$1")" 2>/dev/null || true
}

rt_cleanup() {
  local d
  for d in "$RUN"/ctr/*/; do
    [ -d "$d" ] && rt_remove "$(basename "$d")"
  done
  [ -n "$NS_LAN" ] && ip netns del "$NS_LAN" 2>/dev/null
  true
}

# --- zt1: the monitor is a real ZeroTier One with a kernel tap, in a namespace on the LAN ---------------------
# Nothing of ZeroTier One is part of netcon: the binary comes from ZT_ONE_BIN, its home is made here.

ZT1_NS=""
ZT1_HOME=""
ZT1_PID=""

zt1_cli() { ip netns exec "$ZT1_NS" "$ZT_ONE_BIN" -q -D"$ZT1_HOME" "$@"; }

# zt1_monitor_start NAME BASE NWID IP4 SHARED T0: starts ZeroTier One, joined to NWID (authorized later).
zt1_monitor_start() {
  local idx=$NS_INDEX dir="$RUN/ctr/zt1-$1"
  NS_INDEX=$((NS_INDEX + 1))
  ZT1_NS=$(ns_name "zt1-$1")
  ZT1_HOME="$dir/home"
  mkdir -p "$ZT1_HOME/networks.d"
  chmod 700 "$ZT1_HOME"
  cp "$RUN/planet" "$ZT1_HOME/planet"
  touch "$ZT1_HOME/networks.d/$3.conf"
  # Primary port only: no secondary port, no UPnP/NAT-PMP, no TCP fallback relay (it would try the internet).
  cat >"$ZT1_HOME/local.conf" <<'CONF'
{ "settings": { "primaryPort": 9993, "allowSecondaryPort": false, "portMappingEnabled": false,
  "allowTcpFallbackRelay": false, "forceTcpRelay": false, "tcpFallbackRelay": "127.0.0.1/9",
  "softwareUpdate": "disable" } }
CONF
  ip netns add "$ZT1_NS"
  ip -n "$ZT1_NS" link set lo up
  ip -n "$NS_LAN" link add "v$idx" type veth peer name eth0 netns "$ZT1_NS"
  ip -n "$NS_LAN" link set "v$idx" master br0 up
  ip -n "$ZT1_NS" addr add "$NS_NET.$idx/24" dev eth0
  ip -n "$ZT1_NS" link set eth0 up
  ip netns exec "$ZT1_NS" "$ZT_ONE_BIN" -p9993 "$ZT1_HOME" >"$dir/log" 2>&1 &
  ZT1_PID=$!
}

zt1_authorize() {
  local nwid=$1 a=""
  for _ in $(seq 100); do
    a=$(cut -c1-10 "$ZT1_HOME/identity.public" 2>/dev/null) && [ -n "$a" ] && break
    sleep 0.2
  done
  [ -n "$a" ] || { say "ZeroTier One made no identity"; return 1; }
  authorize "$nwid" "$a" "$2" "$3"
  say "ZeroTier One $a (monitor, $2) authorized on $nwid"
}

# zt1_monitor_wait NAME BASE SHARED SECONDS: waits for the tap's address, runs the monitor script in the
# namespace (private /tmp), stops ZeroTier One; prints the script's exit code.
zt1_monitor_wait() {
  local name=$1 base=$2 until=$(($(date +%s) + $4)) dir="$RUN/ctr/zt1-$1" rc
  while ! ip -n "$ZT1_NS" -o -4 addr show | grep -q " 10\.147\."; do
    if [ "$(date +%s)" -ge "$until" ]; then
      say "ZeroTier One's tap got no address: $(zt1_cli listnetworks 2>&1 | tr '\n' ' ')"
      break
    fi
    sleep 0.5
  done
  local env=(SUITE="$name" VARIANT=- BASE="$base" ARCH="$ARCH" RUNNER=ns DT="$DT_ROOT" SHARED="$3"
    RESULTS="$RESULTS" TARGET4="$(sed -n 's/^TARGET4=//p' "$RUN/ctr/app-$name-$base/env")"
    T0="$(sed -n 's/^T0=//p' "$RUN/ctr/app-$name-$base/env")" ZT_ONE_VERSION="$("$ZT_ONE_BIN" -v 2>/dev/null)"
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin)
  ip netns exec "$ZT1_NS" unshare --mount --propagation private -- sh -c \
    "$(ns_private_tmp "$dir") && exec env -i \"\$@\"" sh "${env[@]}" "$DT_ROOT/zt1/monitor_entrypoint.sh" \
    >>"$dir/log" 2>&1
  rc=$?
  kill -TERM "$ZT1_PID" 2>/dev/null
  wait "$ZT1_PID" 2>/dev/null
  ip netns del "$ZT1_NS" 2>/dev/null
  echo "$rc"
}
