#!/bin/bash
# Restart acme-mta's daemon on the new version and wait (at most 5 s) until it listens again.
# The slow fault (/etc/fleet/faults/slow holds seconds) delays the upgrade first.
set -e
case "$1" in
    configure)
        if [ -r /etc/fleet/faults/slow ]; then
            read -r delay < /etc/fleet/faults/slow
            echo "acme-mta: postinst delayed ${delay}s (fleet fault slow)"
            sleep "$delay"
        fi
        /usr/local/sbin/fleet-service restart acme-mta
        read -r port < /etc/fleet/health_port
        for _ in $(seq 50); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
            sleep 0.1
        done
        echo "acme-mta: warning: the daemon did not start, see /var/log/acme-mta.log" >&2
        ;;
esac
exit 0
