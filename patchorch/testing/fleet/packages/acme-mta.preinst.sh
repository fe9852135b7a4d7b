#!/bin/sh
# The failing-upgrade fault: refuse to install or upgrade acme-mta while /etc/fleet/faults/failing-upgrade exists.
# Upgrades are logged to /var/log/fleet-events.log with the host's drain state at that moment.
set -e
if [ "$1" = upgrade ]; then
    state=serving
    [ -e /var/lib/fleet/drained ] && state=drained
    outcome=upgrade
    [ -e /etc/fleet/faults/failing-upgrade ] && outcome=refused-upgrade
    echo "$outcome acme-mta $state" >> /var/log/fleet-events.log
fi
if [ -e /etc/fleet/faults/failing-upgrade ] && { [ "$1" = upgrade ] || [ "$1" = install ]; }; then
    echo "acme-mta: preinst refuses to $1 (fleet fault failing-upgrade)" >&2
    exit 1
fi
exit 0
