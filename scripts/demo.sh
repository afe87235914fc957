#!/usr/bin/env bash
# Install StarLevel into .venv and start it on SQLite with a demo company.
#   bash scripts/demo.sh               serves http://127.0.0.1:8000/
#   bash scripts/demo.sh --port 9000   extra arguments go to `starlevel demo`
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
export DATABASE_URL=${DATABASE_URL:-sqlite:///$PWD/starlevel-demo.sqlite3}
exec .venv/bin/starlevel demo "$@"
