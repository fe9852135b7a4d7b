#!/bin/bash
# The host's init (PID 2 under podman's catatonit): configures sshd from the environment podman passes, provisions
# the acme packages on first boot, then supervises sshd and carries out reboots.
#
# A reboot (/usr/local/sbin/fleet-reboot) kills every process of the host except this one, clears /run, waits the
# reboot downtime, writes a new boot id and starts the services again: to Ansible the host goes away and comes back.
set -u

: "${FLEET_HOST:?}" "${FLEET_SSH_PORT:?}" "${FLEET_HEALTH_PORT:?}" "${FLEET_AUTHORIZED_KEY:?}"
FLEET_REBOOT_DOWNTIME=${FLEET_REBOOT_DOWNTIME:-3}
FAULTS=/etc/fleet/faults

# A file descriptor that never becomes readable: `read -t` on it waits without forking a sleep process.
exec {tick}<> <(:)
pause() { read -r -t "$1" -u "$tick" _ || true; }

configure() {
    mkdir -p /etc/fleet "$FAULTS" /root/.ssh /var/lib/fleet
    printf '%s\n' "$FLEET_HOST" > /etc/fleet/host
    printf '%s\n' "$FLEET_HEALTH_PORT" > /etc/fleet/health_port
    printf '%s\n' "$FLEET_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
    chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys
    [ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
    cat > /etc/ssh/sshd_config.d/fleet.conf <<CONF
ListenAddress 127.0.0.1
Port $FLEET_SSH_PORT
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
UseDNS no
CONF
}

provision() {
    # First boot only: index the local repository and install the starting versions of the acme packages.
    [ -e /var/lib/fleet/provisioned ] && return 0
    apt-get update -qq -o Dpkg::Use-Pty=0 >/var/log/fleet-provision.log 2>&1 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
        $(cat /srv/acme-repo/initial.txt) >>/var/log/fleet-provision.log 2>&1 || return 1
    touch /var/lib/fleet/provisioned
}

sshd_running() {
    local pid
    [ -r /run/sshd.pid ] && read -r pid < /run/sshd.pid && kill -0 "$pid" 2>/dev/null
}

boot() {
    mkdir -p /run/fleet /run/sshd
    rm -f /run/reboot-required /run/reboot-required.pkgs /run/fleet/reboot-requested
    cat /proc/sys/kernel/random/uuid > /run/fleet/boot_id
    if ! provision; then
        echo "fleet-init: provisioning failed, see /var/log/fleet-provision.log" >&2
        cat /var/log/fleet-provision.log >&2
    fi
    if [ -x /usr/sbin/acme-mta ]; then
        /usr/local/sbin/fleet-service start acme-mta
        # Like a service manager's ordering: SSH comes up after acme-mta listens (or fails to within 30 s).
        local deadline=$((SECONDS + 30))
        while ((SECONDS < deadline)) && /usr/local/sbin/fleet-service status acme-mta; do
            (exec 3<>"/dev/tcp/127.0.0.1/$FLEET_HEALTH_PORT") 2>/dev/null && break
            pause 0.1
        done
    fi
    [ -e "$FAULTS/unreachable" ] || /usr/sbin/sshd
}

reboot() {
    echo "fleet-init: rebooting $FLEET_HOST"
    kill -TERM -1 2>/dev/null
    local deadline=$((SECONDS + 5)) others
    while ((SECONDS < deadline)); do
        others=0
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            [ "$p" = 1 ] || [ "$p" = "$BASHPID" ] || [ "$p" = "$$" ] || others=1
        done
        ((others)) || break
        pause 0.1
    done
    kill -KILL -1 2>/dev/null
    rm -rf /run/fleet /run/sshd /run/sshd.pid
    pause "$FLEET_REBOOT_DOWNTIME"
    boot
}

trap 'exit 0' TERM INT
configure
boot
while :; do
    if [ -e /run/fleet/reboot-requested ]; then
        reboot
    elif [ -e "$FAULTS/unreachable" ]; then
        sshd_running && pkill -KILL -x sshd
    elif ! sshd_running; then
        /usr/sbin/sshd
    fi
    pause 0.25
done
