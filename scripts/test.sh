#!/usr/bin/env bash
# The whole test suite, real test fleet included (podman hosts on 127.0.0.1). Sets itself up first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
