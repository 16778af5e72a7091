#!/bin/sh
# nginx suite, the app: nginx in the foreground, 2 workers, sendfile on, keep-alive, listening on IPv4 and
# IPv6, unmodified, under the intercept. Non-root (no `user` directive; port 80 is netcon's, not the kernel's).
set -eu
. "$DT/lib/app-lib.sh"
W=/tmp/dt/nginx
make_file "$W/www/file.bin"
echo "welcome to nginx on netcon" >"$W/www/index.html"
mkdir -p "$W/tmp"
cat >"$W/nginx.conf" <<CONF
worker_processes 2;
daemon off;
master_process on;
pid $W/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 30;
  keepalive_requests 1000;
  client_body_temp_path $W/tmp/body;
  proxy_temp_path $W/tmp/proxy;
  fastcgi_temp_path $W/tmp/fastcgi;
  uwsgi_temp_path $W/tmp/uwsgi;
  scgi_temp_path $W/tmp/scgi;
  server {
    listen 80 backlog=511;
    listen [::]:80 backlog=511;
    root $W/www;
  }
}
CONF
exec /usr/sbin/nginx -p "$W" -e stderr -c "$W/nginx.conf"
