#!/usr/bin/env bash
# Set up everything patchorch needs on a fresh Debian 12 machine: the test fleet's system packages (podman, runc,
# debootstrap, dpkg-dev), PostgreSQL for the store tests, and a virtualenv in .venv with patchorch and its development
# tools.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-fleet-deps.sh
bash scripts/install-postgres.sh

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.patchorch-installed
# Reinstall only when the project's dependencies changed.
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    echo "$want" > "$stamp"
fi
echo "bootstrap: .venv ready ($(.venv/bin/patchorch --version 2>/dev/null || echo patchorch))"
