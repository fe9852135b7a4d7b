#!/bin/sh
# acme-mta loads its filters at start: restart it so the new filter takes effect (1.0-2's makes it fail to start).
set -e
if [ "$1" = configure ] && [ -n "${2:-}" ]; then
    /usr/local/sbin/fleet-service restart acme-mta || true
fi
exit 0
