#!/bin/sh
# acme-mta's init script: what service managers and needrestart find in the acme-mta package. It hands over to the
# host's service manager, fleet-service. No LSB header: needrestart then lists it whenever acme-mta runs old code.
exec /usr/local/sbin/fleet-service "${1:?usage: /etc/init.d/acme-mta start|stop|restart|status}" acme-mta
