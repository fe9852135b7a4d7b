#!/bin/sh
set -e
if [ "$1" = remove ]; then
    /usr/local/sbin/fleet-service stop acme-mta
fi
exit 0
