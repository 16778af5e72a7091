#!/usr/bin/env bash
# Builds everything; installs what is missing first. A second run with nothing changed takes seconds.
#   ./build.sh            install missing dependencies, then build
#   NETCON_NO_INSTALL=1   skip the dependency check (CI has already run it)
set -euo pipefail
cd "$(dirname "$0")"

[ "${NETCON_NO_INSTALL:-}" = 1 ] || bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
# 1. lwIP compiled to WebAssembly (lwip/Makefile knows what is stale).
make -s -C lwip -j"$jobs"
# Node's headers come with the machine (Debian's nodejs); node-gyp must not try to download them.
NODEDIR_ARG=""
[ -f /usr/include/node/node_api.h ] && NODEDIR_ARG="--nodedir=/usr"
# 2. The native addon (node-addon-api): crypto batches, socketpairs, fd passing.
if [ ! -f native/build/Release/netcon_native.node ] || [ -n "$(find native/src native/binding.gyp -newer native/build/Release/netcon_native.node 2>/dev/null | head -1)" ]; then
  echo "build: native addon"
  (cd native && ../node_modules/.bin/node-gyp rebuild ${NODEDIR_ARG} --loglevel=error >build.log 2>&1 || { cat build.log >&2; exit 1; })
fi
# 3. The intercept library, also copied to the repo root as users expect.
make -s -C intercept -j"$jobs"
# Replaced by rename, never rewritten in place: programs running with the old copy loaded keep working.
if ! cmp -s intercept/build/libzerotierintercept.so libzerotierintercept.so; then
  cp -p intercept/build/libzerotierintercept.so .libzerotierintercept.so.new
  mv -f .libzerotierintercept.so.new libzerotierintercept.so
fi
# 4. TypeScript (incremental).
node_modules/.bin/tsc -p tsconfig.json
