#!/bin/sh
# Like a new libssl: running services keep the old library until the host reboots.
set -e
if [ "$1" = configure ] && [ -n "${2:-}" ]; then
    touch /var/run/reboot-required
    echo acme-tls >> /var/run/reboot-required.pkgs
fi
exit 0
