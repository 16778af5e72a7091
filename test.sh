#!/usr/bin/env bash
# Builds what is stale, checks style and import directions, then runs the tests.
#   ./test.sh             all tests
#   ./test.sh SUBSTRING   only the test files whose path (under test/) contains SUBSTRING, e.g. stack, vl1, intercept
#   ./test.sh docker-test only docker-test/test.sh (which the full run also runs, after the tests)
#   NETCON_TEST_LOAD=N ./test.sh …   the same with N busy processes running for the whole test run (a loaded
#                         machine); they are stopped at the end, on failure and on Ctrl-C
set -euo pipefail
cd "$(dirname "$0")"
filter="${1:-}"

./build.sh
echo "test: lint and format (biome)"
node_modules/.bin/biome check --reporter=summary . >/dev/null || node_modules/.bin/biome check .
echo "test: import directions (dependency-cruiser)"
node_modules/.bin/depcruise --config .dependency-cruiser.cjs --output-type err common netcon service native bench test testkit tools

if [ "$filter" = docker-test ]; then
  exec docker-test/test.sh
fi

mapfile -t files < <(cd dist && find test -name '*.test.js' | sort | grep -F -- "$filter" | sed 's|^|dist/|')
if [ ${#files[@]} -eq 0 ]; then
  echo "test: no test file matches '$filter'" >&2
  exit 1
fi
load="${NETCON_TEST_LOAD:-0}"
if ! [[ "$load" =~ ^[0-9]+$ ]]; then
  echo "test: NETCON_TEST_LOAD must be a number of busy processes, not '$load'" >&2
  exit 1
fi
busy=()
stop_load() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done
  busy=()
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT
trap 'stop_load; exit 143' TERM
for ((i = 0; i < load; i++)); do
  (trap - EXIT INT TERM; while :; do :; done) &
  busy+=("$!")
done
[ "$load" -gt 0 ] && echo "test: $load busy processes for the run (pids ${busy[*]})"
echo "test: ${#files[@]} test files"
node_modules/.bin/ava "${files[@]}"
if [ -z "$filter" ]; then
  echo "test: docker-test (the suites without Docker, and with Docker where an engine answers)"
  docker-test/test.sh
fi
