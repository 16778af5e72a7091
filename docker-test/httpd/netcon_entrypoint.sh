#!/bin/sh
# httpd suite, the app: Apache 2.4 in the foreground, unmodified, under the intercept (this script is the
# netcon entrypoint's app command). VARIANT: event (Debian's default threaded MPM) or prefork. Non-root:
# port 80 is a port of netcon's stack, not the kernel's, so no capability is needed.
set -eu
. "$DT/lib/app-lib.sh"
W=/tmp/dt/httpd
make_file "$W/www/file.bin"
echo "welcome to httpd on netcon" >"$W/www/index.html"
MODS=/usr/lib/apache2/modules
case "$VARIANT" in
prefork) MPM="LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
StartServers 5
ServerLimit 250
MaxRequestWorkers 250" ;;
*) MPM="LoadModule mpm_event_module $MODS/mod_mpm_event.so
StartServers 2
ServerLimit 16
ThreadsPerChild 25
MaxRequestWorkers 400" ;;
esac
cat >"$W/httpd.conf" <<CONF
ServerRoot $W
$MPM
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule dir_module $MODS/mod_dir.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /etc/mime.types
Listen 80
ServerName netcon-$SUITE
PidFile $W/httpd.pid
Mutex file:$W default
ErrorLog /proc/self/fd/2
LogLevel warn
DocumentRoot $W/www
EnableSendfile On
KeepAlive On
ListenBacklog 511
<Directory $W/www>
  Require all granted
</Directory>
CONF
exec /usr/sbin/apache2 -D FOREGROUND -f "$W/httpd.conf"
