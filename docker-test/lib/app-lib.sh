# docker-test: what the app sides of the suites share (sourced; POSIX sh).
# shellcheck shell=sh

# The app's test data, made by the app container: a 10 MiB random file; its MD5 into the shared folder.
make_file() {
  mkdir -p "$(dirname "$1")"
  head -c 10485760 /dev/urandom >"$1"
  md5sum <"$1" | cut -d' ' -f1 >"$SHARED/expected.md5.tmp"
  mv "$SHARED/expected.md5.tmp" "$SHARED/expected.md5"
}
