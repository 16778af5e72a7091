#!/bin/sh
# python suite, the app: python3 -m http.server, unmodified, under the intercept.
set -eu
. "$DT/lib/app-lib.sh"
W=/tmp/dt/python
make_file "$W/www/file.bin"
echo "welcome to python3 http.server on netcon" >"$W/www/index.html"
cd "$W/www"
exec /usr/bin/python3 -m http.server 8000
