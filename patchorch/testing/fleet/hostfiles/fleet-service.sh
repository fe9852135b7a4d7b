#!/bin/sh
# fleet-service start|stop|restart|status acme-mta: the host's service manager for acme-mta's daemon.
set -u
action=${1:?usage: fleet-service start|stop|restart|status acme-mta}
service=${2:-acme-mta}
[ "$service" = acme-mta ] || { echo "fleet-service: unknown service $service" >&2; exit 2; }
pidfile=/run/fleet/acme-mta.pid
mkdir -p /run/fleet

start() {
    start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile "$pidfile" \
        --output /var/log/acme-mta.log --exec /usr/bin/python3 -- /usr/sbin/acme-mta
}
stop() {
    start-stop-daemon --stop --quiet --oknodo --retry TERM/5/KILL/2 --pidfile "$pidfile" --remove-pidfile
}
case "$action" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) start-stop-daemon --status --pidfile "$pidfile" ;;
    *) echo "fleet-service: unknown action $action" >&2; exit 2 ;;
esac
