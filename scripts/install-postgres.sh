#!/bin/sh
# Install Debian's PostgreSQL server (postgresql: initdb and pg_ctl under /usr/lib/postgresql/*/bin). The tests start
# a private server of their own from it (tests/postgres.py); nothing here starts or configures the system cluster.
# Idempotent: returns at once when it is installed, without touching apt's lists.
set -eu

packages="postgresql"
missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $package"
done
if [ -z "$missing" ]; then
    echo "PostgreSQL present: $packages"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$missing"
$sudo apt-get update -qq
# Debian's package creates and starts a system cluster; the tests never use it.
# shellcheck disable=SC2086  # one word per package
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
