#!/usr/bin/env bash
# docker-test/test.sh [SUBSTRING]: runs the suites whose "<suite>.<base>.<arch>" contains SUBSTRING (all by
# default) in every runner: without Docker (namespaces, always), with Docker (when an engine answers), and with
# Docker and one host service for every app container (hosted, lib/hosted-runner.sh).
#   DT_RUNNERS="ns docker hosted"   choose the runners (default: ns, plus docker and hosted when `docker info` works)
#   ZT_ONE_BIN=…             a ZeroTier One binary: the zt1 suite's monitor (skipped loudly without it)
#   DT_KEEP=1                keep the run's folder (homes, logs) after the run
# Results: _results/<runner>/OK.<suite>.<base>.<arch> or FAIL.…, a summary table at the end; exit 1 if
# anything failed. Needs root for the namespace runner.
set -uo pipefail
cd "$(dirname "$0")"
filter="${1:-}"
. lib/common.sh

runners=${DT_RUNNERS:-}
if [ -z "$runners" ]; then
  runners=ns
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    runners="ns docker hosted"
  else
    say "no Docker engine answers (docker info): the Docker and hosted runners are skipped; the namespace runner runs"
  fi
fi

summary_file=$(mktemp)
overall=0
for runner in $runners; do
  started=$(date +%s)
  if [ "$runner" = ns ] && [ "$(id -u)" != 0 ]; then
    say "SKIPPED the namespace runner: it needs root (network namespaces, veth pairs)"
    printf '%-14s %-9s %-7s %-5s %s\n' "*" "*" ns SKIP "needs root" >>"$summary_file"
    continue
  fi
  if [ "$runner" = hosted ] && [ "$(id -u)" != 0 ]; then
    say "SKIPPED the hosted runner: it needs root (the node folders it generates are handed to the image's uid 9993)"
    printf '%-14s %-9s %-7s %-5s %s\n' "*" "*" hosted SKIP "needs root" >>"$summary_file"
    continue
  fi
  (
    . "lib/$runner-runner.sh"
    RUN=$(mktemp -d /var/tmp/netcon-dt-XXXXXX)
    chmod 755 "$RUN"
    RESULTS="$DT_ROOT/_results/$runner"
    mkdir -p "$RESULTS" "$RUN/shared"
    chmod 1777 "$RESULTS" "$RUN/shared"
    cleanup() {
      rt_cleanup
      if [ "${DT_KEEP:-}" = 1 ]; then say "kept $RUN"; else rm -rf "$RUN"; fi
    }
    trap cleanup EXIT
    trap 'exit 130' INT TERM HUP PIPE
    if [ "$runner" = ns ]; then mode=host; else mode=listed; fi
    mapfile -t runs < <(select_runs "$filter" "$mode")
    if [ ${#runs[@]} -eq 0 ]; then
      say "$runner: no suite matches '$filter'"
      exit 0
    fi
    rt_prepare "${runs[@]}" || { echo "FAIL-PREPARE" >>"$summary_file"; exit 1; }
    # The root + controller, shared by the suites: a fresh identity and planet for this run.
    free_port root_port
    make_planet "$(rt_host)/$root_port" "$RUN"
    CTR_ENV=(NETCON_PORT="$root_port" ZEROTIER_API_SECRET="$(secret)"
      ZEROTIER_IDENTITY_PUBLIC="$(cat "$RUN/root.public")" ZEROTIER_IDENTITY_SECRET="$(cat "$RUN/root.secret")")
    rt_start root root "$DT_ROOT_BASE" -
    ROOT_ADDRESS=$(node_address root 60) || {
      say "the root did not start"
      rt_logs root >&2
      echo "FAIL-ROOT" >>"$summary_file"
      exit 1
    }
    say "$runner: root + controller $ROOT_ADDRESS at $(rt_host)/$root_port; ${#runs[@]} suite runs"
    if [ "$runner" = hosted ]; then
      hosted_run "${runs[@]}"
    else
      for r in "${runs[@]}"; do
        # shellcheck disable=SC2086
        run_suite "$runner" $r
      done
    fi
    printf '%s\n' "${SUMMARY[@]}" >>"$summary_file"
    exit "$FAILED"
  )
  rc=$?
  [ "$rc" = 0 ] || overall=1
  say "$runner runner: $(($(date +%s) - started)) s"
done

echo
printf '%-14s %-9s %-7s %-5s %s\n' suite base runner result "key figure"
printf '%s\n' "-------------- --------- ------- ----- ----------------------------------------------"
grep -v '^FAIL-' "$summary_file"
if grep -q '^FAIL-' "$summary_file"; then
  echo "a runner could not start: $(grep '^FAIL-' "$summary_file" | tr '\n' ' ')"
  overall=1
fi
rm -f "$summary_file"
exit "$overall"
