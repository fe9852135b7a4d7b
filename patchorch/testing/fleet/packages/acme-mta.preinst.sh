#!/bin/sh
# The failing-upgrade fault: refuse to install or upgrade acme-mta while /etc/fleet/faults/failing-upgrade exists.
set -e
if [ -e /etc/fleet/faults/failing-upgrade ] && { [ "$1" = upgrade ] || [ "$1" = install ]; }; then
    echo "acme-mta: preinst refuses to $1 (fleet fault failing-upgrade)" >&2
    exit 1
fi
exit 0
