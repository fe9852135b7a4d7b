#!/usr/bin/env bash
# molecule test of the patchorch_patch role on real test hosts (molecule/default): create, check-mode prepare,
# converge, idempotence, verify, destroy. Uses the venv's molecule and ansible; nothing is fetched from Galaxy.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 MOLECULE_NO_LOG=false
exec .venv/bin/molecule test --scenario-name default "$@"
