#!/bin/sh
# lwIP's source with our patches (patches/*.diff, applied in name order): src-lwip/src copied to build/lwip-src,
# the files a patch touches converted to LF first (Debian's source has CRLF line ends), then the patch applied.
# Redone when a patch, this script or the fetched source is newer than the copy; silent when up to date.
# The Makefile runs it before it looks for any source, so the compiler only ever sees the patched tree.
set -eu
cd "$(dirname "$0")"
out=build/lwip-src
stamp=$out/.patched
if [ -f "$stamp" ] && [ -z "$(find patches patch-lwip.sh src-lwip/src/core/tcp.c -newer "$stamp" | head -1)" ]; then
  exit 0
fi
[ -f src-lwip/src/core/tcp.c ] || { echo "lwip: no source in lwip/src-lwip (scripts/install-deps.sh fetches it)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
cp -r src-lwip/src "$out/src"
for p in patches/*.diff; do
  files=$(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p")
  # shellcheck disable=SC2086 # one word per file named by the patch
  (cd "$out/src" && sed -i 's/\r$//' $files)
  patch -s -p1 -d "$out/src" <"$p" || { echo "lwip: $p does not apply to lwIP's source" >&2; exit 1; }
done
touch "$stamp"
