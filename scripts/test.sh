#!/usr/bin/env bash
# Install what the tests need, then run the whole suite on SQLite and PostgreSQL/PostGIS.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k store   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: Chromium for the real-browser tests, PostGIS for the PostgreSQL tests.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if command -v pg_lsclusters >/dev/null 2>&1; then
  pgver=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
  [ -n "$pgver" ] && [ ! -f "/usr/share/postgresql/$pgver/extension/postgis.control" ] \
    && missing+=("postgresql-$pgver-postgis-3")
  # Start the local cluster if it is installed but down.
  if [ -n "$pgver" ] && ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$pgver" main start || true
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python packages, from pyproject.toml.
python3 -m pip install -q --disable-pip-version-check -e ".[test]"

# Strict: a skipped test, or a run without any PostgreSQL test, fails (see tests/conftest.py).
export GRIDMAP_STRICT=1
python3 -m ruff check .
python3 -m pytest "$@"
