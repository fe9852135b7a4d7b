#!/bin/sh
# Ask the host's init to reboot it (Ansible's reboot_command). Returns at once; init takes the host down within a
# quarter of a second, so the SSH session that ran this is cut as on a real reboot.
mkdir -p /run/fleet && touch /run/fleet/reboot-requested
echo "fleet-reboot: reboot scheduled"
