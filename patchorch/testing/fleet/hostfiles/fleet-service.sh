#!/bin/sh
# fleet-service start|stop|restart|status|drain|undrain acme-mta: the host's service manager for acme-mta's daemon.
# drain and undrain take the host out of (and back into) service, as a load balancer would: the health endpoint
# then reports "drained" (and still answers 200). Both are logged to /var/log/fleet-events.log, where acme-mta's
# package scripts log upgrades too, so a test can read what happened in which order.
set -u
action=${1:?usage: fleet-service start|stop|restart|status|drain|undrain acme-mta}
service=${2:-acme-mta}
[ "$service" = acme-mta ] || { echo "fleet-service: unknown service $service" >&2; exit 2; }
pidfile=/run/fleet/acme-mta.pid
# Outside /run: a drained host stays drained through a reboot, as it would behind a real load balancer.
drained=/var/lib/fleet/drained
mkdir -p /run/fleet /var/lib/fleet

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
    drain) touch "$drained" && echo "drain acme-mta" >> /var/log/fleet-events.log ;;
    undrain) rm -f "$drained" && echo "undrain acme-mta" >> /var/log/fleet-events.log ;;
    *) echo "fleet-service: unknown action $action" >&2; exit 2 ;;
esac
