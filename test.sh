#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what it needs
# (apt-get, a virtual environment), then runs ruff, mypy (strict) and pytest.
# Lab tests need root; under CI=true a skipped test is a failure.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
copgate_setup

echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict" >&2
.venv/bin/mypy
echo "== pytest" >&2
.venv/bin/python -m pytest "$@"
