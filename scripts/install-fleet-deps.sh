#!/bin/sh
# Install what the patchorch test fleet needs: podman, runc (crun fails on some cgroup setups), catatonit (podman
# --init), debootstrap (the host image) and dpkg-dev (dpkg-scanpackages for the hosts' apt repository).
# Idempotent: returns at once when all are installed, without touching apt's lists.
set -eu

packages="podman runc catatonit debootstrap dpkg-dev openssh-client chromium"
missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $package"
done
if [ -z "$missing" ]; then
    echo "fleet dependencies present: $packages"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086  # one word per package
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
