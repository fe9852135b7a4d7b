#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the local test fleet (6 Debian hosts in podman, SSH on 127.0.0.1),
# then run a real emergency rollout of the acme-mta security fix (1.0-1 -> 1.0-2) across it, and show what was
# recorded. Run it again and the rollout finds every host already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

export PATCHORCH_STATE_DIR=${PATCHORCH_STATE_DIR:-$PWD/.patchorch}
fleet_dir=.fleet/demo
.venv/bin/python -m patchorch.testing.fleet create --name demo --dir "$fleet_dir" --size "${FLEET_SIZE:-6}"

set +e
.venv/bin/patchorch rollout --emergency --yes --package acme-mta \
    -i "$fleet_dir/inventory.yml" --policy "$fleet_dir/policy.yml"
status=$?
set -e
run=$(.venv/bin/patchorch runs --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
.venv/bin/patchorch show "$run"
.venv/bin/patchorch audit verify
echo "rollout exit status: $status (0: every host patched). Remove the fleet with:"
echo "  .venv/bin/python -m patchorch.testing.fleet destroy --name demo --dir $fleet_dir"
exit "$status"
