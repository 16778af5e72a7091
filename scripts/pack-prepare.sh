#!/usr/bin/env bash
# npm pack's prepack step: builds what is stale (no dependency installation), then puts libsodium.so.23 beside
# the addon, so that the packed package runs on a Debian 12 or 13 (linux-x64, glibc) that lacks libsodium23:
# the addon finds it through its RUNPATH ($ORIGIN, binding.gyp). The lwIP module (built with emscripten), the
# addon and the intercept go into the package built; installing it needs neither emscripten nor a compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCON_NO_INSTALL=1 ./build.sh
addon=native/build/Release/netcon_native.node
sodium=$(ldd "$addon" | awk '$1 == "libsodium.so.23" { print $3 }')
[ -f "$sodium" ] || { echo "pack-prepare: $addon does not link libsodium.so.23" >&2; exit 1; }
[ "$(readlink -f "$sodium")" = "$(readlink -f native/build/Release/libsodium.so.23)" ] ||
  cp -L "$sodium" native/build/Release/libsodium.so.23
