#!/usr/bin/env bash
# netcon-entrypoint: the netcon image's entry point (installed as /usr/local/bin/netcon-entrypoint); also runs
# from the repository or an npm install without Docker.
#
#   netcon-entrypoint [<nwid>...] [-- <command> [args...]]
#   netcon-entrypoint --health
#
# Joins the networks given as arguments and in ZEROTIER_JOIN_NETWORKS (networks.d/<nwid>.conf), starts
# zerotier-netcon-service in the background, waits until the app's network is OK with an address, then runs
# the command under the intercept (LD_PRELOAD + ZT_NC_NETWORK). SIGTERM/SIGINT/SIGHUP go to the command;
# once it has exited the service is stopped, and the entry point exits with the command's status. Without a
# command the service runs in the foreground (exec). `--health` exits 0 when every joined network is OK with
# an address (the image's HEALTHCHECK).
#
# One service for many containers (a host service, issue 16):
#   NETCON_NODES=<dir>   this container is the host: `zerotier-netcon-service --nodes <dir>` in the foreground,
#                        one node per folder of <dir> (bind-mounted from the host); ZEROTIER_API_SECRET is the
#                        host's token (<dir>/authtoken.secret), NETCON_PLANET goes to <dir>/planet (inherited
#                        by nodes without their own), NETCON_PORT is the port every node shares. No networks,
#                        identity or command here: they belong to the nodes' folders and the app containers.
#                        `--health`: the host's API answers GET /nodes.
#   NETCON_HOSTED=1      this container is an app of a node the host runs: ZEROTIER_HOME is that node's folder
#                        (<dir>/<name> bind-mounted), no service is started here; its networks are joined through
#                        the folder (networks.d/<nwid>.conf), the entry point waits for the app's network through
#                        the node's API (its authtoken.secret and zerotier-one.port, written by the host), then
#                        runs the command with ZT_NC_NETWORK=<home>/nc_<nwid>. The node's identity, token and
#                        planet are the host's business (ZEROTIER_IDENTITY_*, ZEROTIER_API_SECRET, NETCON_PLANET
#                        are refused). The command keeps running if the host restarts (the intercept reconnects).
#
# Environment:
#   ZEROTIER_HOME             the service's home (default /var/lib/zerotier-one)
#   ZEROTIER_JOIN_NETWORKS    network IDs, separated by spaces or commas
#   ZEROTIER_API_SECRET       written to <home>/authtoken.secret (the local API's token)
#   ZEROTIER_IDENTITY_PUBLIC  with ZEROTIER_IDENTITY_SECRET: the node's identity (both or neither; checked to
#   ZEROTIER_IDENTITY_SECRET    match); without them the service generates one at its first start
#   NETCON_PORT               the UDP and API port (default: local.conf's primaryPort, else 9993)
#   NETCON_PLANET             a planet file copied to <home>/planet
#   NETCON_NETWORK            the network the command is attached to (default: the first one given)
#   NETCON_WAIT_TIMEOUT       seconds to wait for that network (default 60)
#   NETCON_PREFIX             where netcon is installed (default: the folder above this script)
#   NETCON_NODES, NETCON_HOSTED  one service for many containers (above)
#
# Exit status: the command's; 2 for bad arguments or environment (nothing started); 1 when the service fails
# or the network is not ready in time (its status is printed); 128+n when stopped by signal n before the
# command started.
set -uo pipefail

me=netcon-entrypoint
say() { printf '%s: %s\n' "$me" "$*" >&2; }
usage() {
  cat >&2 <<'EOF'
usage: netcon-entrypoint [<nwid>...] [-- <command> [args...]]
       netcon-entrypoint --health
  <nwid>  a network to join (16 hex digits); also ZEROTIER_JOIN_NETWORKS="<nwid> <nwid>,..."
  The command runs under the intercept on NETCON_NETWORK (default: the first network) once it is up.
  NETCON_NODES=<dir>: run the host service for the nodes in <dir> (no networks, no command).
  NETCON_HOSTED=1: ZEROTIER_HOME is a node folder of a host service; run the command without a service here.
EOF
}
fail() { say "$1"; exit "${2:-2}"; }

self=$(readlink -f "${BASH_SOURCE[0]}")
prefix=${NETCON_PREFIX:-$(dirname "$(dirname "$self")")}
lib=$prefix/libzerotierintercept.so
for f in zerotier-netcon-service zerotier-netcon zerotier-idtool zerotier-cli; do
  [ -x "$prefix/$f" ] || fail "$prefix/$f not found (NETCON_PREFIX names where netcon is installed)"
done
[ -f "$lib" ] || fail "$lib not found (NETCON_PREFIX names where netcon is installed)"

# Our own tools never run under the intercept, whatever the container's environment says (the system-wide
# mode sets ZT_NC_NETWORK for every process). Background jobs call env directly, so that $! is the tool's pid.
tool() { env -u ZT_NC_NETWORK -u LD_PRELOAD "$prefix/$@"; }

home=${ZEROTIER_HOME:-/var/lib/zerotier-one}
timeout=${NETCON_WAIT_TIMEOUT:-60}
port=${NETCON_PORT:-}
nodes=${NETCON_NODES:-}
hosted=${NETCON_HOSTED:-}
is_nwid() { [[ $1 =~ ^[0-9a-fA-F]{16}$ ]]; }
case $hosted in
'' | 0) hosted= ;;
1) ;;
*) fail "NETCON_HOSTED: $hosted is not 1 or 0" ;;
esac
[ -z "$nodes" ] || [ -z "$hosted" ] || fail "NETCON_NODES (the host) and NETCON_HOSTED (an app of a node it runs) exclude each other"

# The host's API answers GET /nodes with its token (node: no curl in the image).
host_health() {
  env -u ZT_NC_NETWORK -u LD_PRELOAD node -e '
    const fs = require("fs"), [dir, port] = process.argv.slice(1);
    const token = fs.readFileSync(dir + "/authtoken.secret", "utf8").trim();
    const p = port || fs.readFileSync(dir + "/zerotier-one.port", "utf8").trim();
    fetch(`http://127.0.0.1:${p}/nodes`, { headers: { "X-ZT1-Auth": token }, signal: AbortSignal.timeout(5000) })
      .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));
  ' "$nodes" "$port" 2>/dev/null
}

if [ "${1:-}" = --health ]; then
  [ $# -eq 1 ] || { usage; exit 2; }
  if [ -n "$nodes" ]; then host_health; exit; fi
  tool zerotier-cli -D"$home" ${port:+"-p$port"} info >/dev/null || exit 1
  for f in "$home"/networks.d/*.conf; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .conf)
    tool zerotier-netcon wait -D"$home" ${port:+"-p$port"} -t0 "$n" >/dev/null || exit 1
  done
  exit 0
fi

# Arguments: network IDs, then -- and the command.
networks=()
command=()
while [ $# -gt 0 ]; do
  case $1 in
  --)
    shift
    command=("$@")
    [ ${#command[@]} -gt 0 ] || { say "nothing after --"; usage; exit 2; }
    break
    ;;
  -h | --help) usage; exit 0 ;;
  *)
    is_nwid "$1" || { say "$1 is not a network ID (16 hex digits)"; usage; exit 2; }
    networks+=("${1,,}")
    ;;
  esac
  shift
done
joins=${ZEROTIER_JOIN_NETWORKS:-}
for n in ${joins//,/ }; do
  is_nwid "$n" || fail "ZEROTIER_JOIN_NETWORKS: $n is not a network ID (16 hex digits)"
  networks+=("${n,,}")
done
app_network=${NETCON_NETWORK:-${networks[0]:-}}
if [ -n "${NETCON_NETWORK:-}" ]; then
  is_nwid "$NETCON_NETWORK" || fail "NETCON_NETWORK: $NETCON_NETWORK is not a network ID (16 hex digits)"
  app_network=${NETCON_NETWORK,,}
  networks+=("$app_network")
fi
[[ $timeout =~ ^[0-9]+$ ]] || fail "NETCON_WAIT_TIMEOUT: $timeout is not a number of seconds"
[ -z "$port" ] || { [[ $port =~ ^[0-9]+$ ]] && [ "$port" -le 65535 ]; } || fail "NETCON_PORT: $port is not a port"
if [ ${#command[@]} -gt 0 ] && [ -z "$app_network" ]; then
  fail "a command needs a network: give its ID as an argument, in ZEROTIER_JOIN_NETWORKS or NETCON_NETWORK"
fi
if [ "${ZEROTIER_IDENTITY_PUBLIC:+set}" != "${ZEROTIER_IDENTITY_SECRET:+set}" ]; then
  fail "ZEROTIER_IDENTITY_PUBLIC and ZEROTIER_IDENTITY_SECRET go together: set both or neither"
fi
[ -z "${NETCON_PLANET:-}" ] || [ -f "$NETCON_PLANET" ] || fail "NETCON_PLANET: $NETCON_PLANET is not a file"

# The host mode: only the service, for every node folder under $nodes.
if [ -n "$nodes" ]; then
  [ ${#networks[@]} -eq 0 ] && [ ${#command[@]} -eq 0 ] ||
    fail "NETCON_NODES: the host runs only the service; networks and commands belong to the app containers (NETCON_HOSTED=1)"
  [ -z "${ZEROTIER_IDENTITY_SECRET:-}" ] ||
    fail "NETCON_NODES: each node's identity is in its own folder (zerotier-idtool generate-nodes), not in the environment"
  umask 077
  mkdir -p "$nodes" || fail "cannot create $nodes"
  if [ -n "${ZEROTIER_API_SECRET:-}" ]; then
    printf '%s' "$ZEROTIER_API_SECRET" >"$nodes/.authtoken.secret.new" && mv -f "$nodes/.authtoken.secret.new" "$nodes/authtoken.secret" ||
      fail "cannot write $nodes/authtoken.secret"
  fi
  if [ -n "${NETCON_PLANET:-}" ]; then
    cp "$NETCON_PLANET" "$nodes/.planet.new" && mv -f "$nodes/.planet.new" "$nodes/planet" || fail "cannot copy $NETCON_PLANET to $nodes/planet"
  fi
  umask 022
  exec env -u ZT_NC_NETWORK -u LD_PRELOAD "$prefix/zerotier-netcon-service" --nodes "$nodes" ${port:+"-p$port"}
fi

# An app of a hosted node: the folder is the host's; only networks.d is ours to add to.
if [ -n "$hosted" ]; then
  [ ${#command[@]} -gt 0 ] || fail "NETCON_HOSTED: give the command to run (the node itself runs in the host service)"
  for v in ZEROTIER_IDENTITY_SECRET ZEROTIER_API_SECRET NETCON_PLANET; do
    [ -z "${!v:-}" ] || fail "NETCON_HOSTED: $v is the host's business (the node's folder holds its identity, token and planet)"
  done
  [ -d "$home" ] || fail "NETCON_HOSTED: $home is not a folder (bind-mount the node's folder <hostdir>/<name> there)"
  mkdir -p "$home/networks.d" || fail "cannot create $home/networks.d"
  for n in "${networks[@]}"; do
    [ -e "$home/networks.d/$n.conf" ] || : >"$home/networks.d/$n.conf" || fail "cannot write $home/networks.d/$n.conf"
  done
fi

if [ -z "$hosted" ]; then
  # The home: 0700, secrets 0600.
  umask 077
  mkdir -p "$home/networks.d" || fail "cannot create $home"
  chmod 700 "$home" || fail "cannot chmod $home"
  for n in "${networks[@]}"; do
    [ -e "$home/networks.d/$n.conf" ] || : >"$home/networks.d/$n.conf" || fail "cannot write $home/networks.d/$n.conf"
  done
  if [ -n "${ZEROTIER_API_SECRET:-}" ]; then
    printf '%s' "$ZEROTIER_API_SECRET" >"$home/.authtoken.secret.new" && mv -f "$home/.authtoken.secret.new" "$home/authtoken.secret" ||
      fail "cannot write $home/authtoken.secret"
  fi
  if [ -n "${ZEROTIER_IDENTITY_SECRET:-}" ]; then
    tmp=$home/.identity.secret.new
    printf '%s\n' "$ZEROTIER_IDENTITY_SECRET" >"$tmp" || fail "cannot write $tmp"
    if ! check=$(tool zerotier-idtool validate "$tmp" 2>&1); then
      rm -f "$tmp"
      fail "ZEROTIER_IDENTITY_SECRET is not a valid secret identity: $check"
    fi
    derived=$(tool zerotier-idtool getpublic "$tmp" 2>/dev/null)
    given=$(printf '%s' "$ZEROTIER_IDENTITY_PUBLIC" | tr -d ' \t\r\n')
    if [ "$derived" != "$given" ]; then
      rm -f "$tmp"
      fail "ZEROTIER_IDENTITY_PUBLIC does not match ZEROTIER_IDENTITY_SECRET (the secret's public half is ${derived%%:*}:…, the public identity given is ${given%%:*}:…); refusing to start"
    fi
    printf '%s\n' "$given" >"$home/identity.public" && mv -f "$tmp" "$home/identity.secret" ||
      fail "cannot write the identity into $home"
  fi
  if [ -n "${NETCON_PLANET:-}" ]; then
    cp "$NETCON_PLANET" "$home/.planet.new" && mv -f "$home/.planet.new" "$home/planet" || fail "cannot copy $NETCON_PLANET to $home/planet"
  fi
  umask 022

  service=("$prefix/zerotier-netcon-service" ${port:+"-p$port"} "$home")
  if [ ${#command[@]} -eq 0 ]; then
    exec env -u ZT_NC_NETWORK -u LD_PRELOAD "${service[@]}"
  fi
fi

# wait_for PID: its exit status in $rc, waiting across the signals our traps handle.
wait_for() {
  local pid=$1 r
  while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null && continue # interrupted by a trapped signal: still running
    wait "$pid" 2>/dev/null
    r=$?
    [ "$r" -eq 127 ] || rc=$r # an interrupted wait left the status to collect
    return 0
  done
}

svc_pid= app_pid= wait_pid= stop_signal=
on_signal() {
  stop_signal=$1
  if [ -n "$app_pid" ]; then
    kill -s "$1" "$app_pid" 2>/dev/null
  else
    [ -z "$wait_pid" ] || kill -TERM "$wait_pid" 2>/dev/null
  fi
}
for s in TERM INT HUP; do trap "on_signal $s" "$s"; done

stop_service() {
  [ -n "$svc_pid" ] || return 0
  kill -TERM "$svc_pid" 2>/dev/null
  wait_for "$svc_pid"
  svc_pid=
}
signal_status() { echo $((128 + $(kill -l "$1"))); }

# Our own service, unless the node runs in a host service.
if [ -z "$hosted" ]; then
  env -u ZT_NC_NETWORK -u LD_PRELOAD "${service[@]}" &
  svc_pid=$!
fi

# Wait for the app's network; stop early if the service dies or a signal comes.
out=$(mktemp)
env -u ZT_NC_NETWORK -u LD_PRELOAD "$prefix/zerotier-netcon" wait -D"$home" ${port:+"-p$port"} -t"$timeout" "$app_network" >"$out" &
wait_pid=$!
while :; do
  done_pid=
  wait -n -p done_pid "$wait_pid" ${svc_pid:+"$svc_pid"}
  rc=$?
  if [ -n "$stop_signal" ]; then
    kill -TERM "$wait_pid" 2>/dev/null
    stop_service
    rm -f "$out"
    exit "$(signal_status "$stop_signal")"
  fi
  if [ -n "$svc_pid" ] && [ "${done_pid:-}" = "$svc_pid" ]; then
    svc_pid=
    kill -TERM "$wait_pid" 2>/dev/null
    rm -f "$out"
    fail "zerotier-netcon-service exited with status $rc before network $app_network was up" 1
  fi
  [ "${done_pid:-}" = "$wait_pid" ] && break
done
wait_pid=
if [ "$rc" -ne 0 ]; then
  rm -f "$out"
  tool zerotier-cli -D"$home" ${port:+"-p$port"} listnetworks >&2
  stop_service
  exit 1
fi
read -r socket addresses <"$out"
rm -f "$out"
# A hosted node's socket is named by the host's path for the folder; here the folder is $home.
[ -z "$hosted" ] || socket=$home/nc_$app_network
say "network $app_network is up ($addresses); starting ${command[0]}"

LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD} ZT_NC_NETWORK=$socket "${command[@]}" <&0 &
app_pid=$!
while :; do
  done_pid=
  wait -n -p done_pid "$app_pid" ${svc_pid:+"$svc_pid"}
  rc=$?
  if [ "${done_pid:-}" = "$app_pid" ]; then
    app_pid=
    break
  fi
  if [ -n "$svc_pid" ] && [ "${done_pid:-}" = "$svc_pid" ]; then
    svc_pid=
    say "zerotier-netcon-service exited with status $rc; stopping ${command[0]}"
    kill -TERM "$app_pid" 2>/dev/null
    wait_for "$app_pid"
    exit 1
  fi
done
app_rc=$rc
stop_service
exit "$app_rc"
