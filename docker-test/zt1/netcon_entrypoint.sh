#!/bin/sh
# zt1 suite, the app: the nginx suite's app (2 workers, sendfile, keep-alive), checked by a real ZeroTier One.
exec "$DT/nginx/netcon_entrypoint.sh"
