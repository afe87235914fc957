#!/usr/bin/env bash
# Install everything the test suite needs, then run it on SQLite and on PostgreSQL.
#   bash scripts/test.sh            the whole suite, both databases
#   bash scripts/test.sh -k ladder  extra arguments go to pytest (both runs)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

apt_install() {
  # apt packages the suite needs: Chromium for the browser tests, PostgreSQL server binaries, a CJK font.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  # A CJK font, so that the 中文 screenshots written by the browser tests are legible.
  [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

apt_install
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

mkdir -p test-artifacts
status=0
echo "== test suite on SQLite"
STARLEVEL_TEST_DB=sqlite .venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
echo "== test suite on PostgreSQL (throwaway cluster on 127.0.0.1)"
STARLEVEL_TEST_DB=postgres .venv/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/domain "$@" || status=$?
exit $status
