#!/bin/sh
# fleet-fault set MODE [SECONDS] | clear MODE|all | list: switch a test fault of this host on or off.
#   unreachable      sshd is stopped and stays stopped (init does not restart it)
#   slow             the next acme-mta upgrades wait SECONDS (default 3) in postinst
#   failing-upgrade  acme-mta's preinst refuses to upgrade
#   failing-health   acme-mta's health endpoint answers 503
set -u
faults=/etc/fleet/faults
mkdir -p "$faults"
check_mode() {
    case "$1" in
        unreachable|slow|failing-upgrade|failing-health) ;;
        *) echo "fleet-fault: unknown fault $1" >&2; exit 2 ;;
    esac
}
case "${1:-list}" in
    set)
        check_mode "${2:?fault mode}"
        printf '%s\n' "${3:-3}" > "$faults/$2.tmp" && mv "$faults/$2.tmp" "$faults/$2"
        [ "$2" = unreachable ] && pkill -KILL -x sshd
        exit 0 ;;
    clear)
        if [ "${2:-all}" = all ]; then rm -f "$faults"/*; else check_mode "$2"; rm -f "$faults/$2"; fi ;;
    list) ls -1 "$faults" ;;
    *) echo "usage: fleet-fault set MODE [SECONDS] | clear MODE|all | list" >&2; exit 2 ;;
esac
