#!/usr/bin/env bash
# npm pack's prepack step: builds what is stale (no dependency installation), then makes the addon
# self-contained for the package: OpenSSL's libcrypto and liblz4 linked in statically (node-gyp
# -Dnetcon_static_libs=1; their symbols hidden), and libsodium.so.23 (whose static archive is not PIC) put beside
# it, found through its RUNPATH ($ORIGIN, binding.gyp). The packed addon then needs only glibc and libstdc++
# (every Debian 12 and 13 has them, even a minbase one). The lwIP module (built with emscripten), the addon and
# the intercept go into the package built: installing it needs neither emscripten nor a compiler. The static
# addon stays in native/build/ afterwards; it behaves as the dynamic one.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCON_NO_INSTALL=1 ./build.sh
addon=native/build/Release/netcon_native.node
if ldd "$addon" | grep -qE 'libcrypto|liblz4'; then
  echo "pack: the addon with libcrypto and liblz4 linked in"
  nodedir=()
  [ -f /usr/include/node/node_api.h ] && nodedir=(--nodedir=/usr)
  # Built in a folder of its own (inside native/, so node-addon-api resolves), then renamed over the addon:
  # programs and tests using native/build meanwhile never see it half-built or removed.
  work=$(mktemp -d native/.pack-build.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  cp -a native/binding.gyp native/src "$work/"
  (cd "$work" && ../../node_modules/.bin/node-gyp rebuild "${nodedir[@]}" --loglevel=error -- -Dnetcon_static_libs=1 >build.log 2>&1) ||
    { cat "$work/build.log" >&2; exit 1; }
  cp "$work/build/Release/netcon_native.node" "$addon.pack-new"
  mv -f "$addon.pack-new" "$addon"
fi
sodium=$(ldd "$addon" | awk '$1 == "libsodium.so.23" { print $3 }')
[ -f "$sodium" ] || { echo "pack-prepare: $addon does not link libsodium.so.23" >&2; exit 1; }
[ "$(readlink -f "$sodium")" = "$(readlink -f native/build/Release/libsodium.so.23)" ] ||
  cp -L "$sodium" native/build/Release/libsodium.so.23
