#!/usr/bin/env bash
# Prints the address of the Debian archive this machine's apt already uses: the first "deb" entry whose
# suites include the release itself (e.g. bookworm, not bookworm-security), in deb822 (.sources) or one-line
# (.list) form. Derived at run time so that no committed file names an archive.
#   scripts/apt-archive.sh            the URI, e.g. for debootstrap
#   scripts/apt-archive.sh --deb-src  a deb822 deb-src entry for the release's main component, same archive
set -euo pipefail
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || { echo "apt-archive: no VERSION_CODENAME in /etc/os-release" >&2; exit 1; }

# One line per deb entry: URI<TAB>suites<TAB>signed-by
entries() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v RS= -F '\n' '{
      types = ""; uris = ""; suites = ""; signed = ""; enabled = "yes"
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^#/) continue
        if (line ~ /^Types:/) { sub(/^Types:[ \t]*/, "", line); types = line }
        else if (line ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", line); uris = line }
        else if (line ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", line); suites = line }
        else if (line ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", line); signed = line }
        else if (line ~ /^Enabled:/) { sub(/^Enabled:[ \t]*/, "", line); enabled = line }
      }
      if (enabled == "no" || (" " types " ") !~ / deb /) next
      split(uris, u, /[ \t]+/)
      print u[1] "\t" suites "\t" signed
    }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { s = ""; for (i = 3; i <= NF; i++) s = s " " $i; print $2 "\t" $3 "\t" }'
  done
}

found=$(entries | awk -F '\t' -v cn="$codename" '{ n = split($2, s, /[ \t]+/); for (i = 1; i <= n; i++) if (s[i] == cn) { print; exit } }')
[ -n "$found" ] || { echo "apt-archive: no deb entry for $codename in this machine's apt sources" >&2; exit 1; }
uri=${found%%$'\t'*}
signed=${found##*$'\t'}
if [ "${1:-}" = --deb-src ]; then
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$codename"
  [ -z "$signed" ] || printf 'Signed-By: %s\n' "$signed"
else
  echo "$uri"
fi
