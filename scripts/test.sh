#!/usr/bin/env bash
# Install what the tests need, then run the whole suite on SQLite and PostgreSQL/PostGIS.
#   bash scripts/test.sh            # everything, strict (what CI runs)
#   bash scripts/test.sh -k store   # extra arguments go to pytest (not strict)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: Chromium for the real-browser tests, PostGIS for the PostgreSQL tests,
# nginx for the reverse-proxy test (deploy/; tests/test_proxy.py runs it in the foreground).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# The proxy test makes its self-signed certificate with the openssl command.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# A CJK font, so that the browser tests' screenshots show Chinese rather than boxes.
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-noto-cjk)
if command -v pg_lsclusters >/dev/null 2>&1; then
  # The cluster on the port the tests use (GRIDMAP_TEST_PG_URL defaults to 5432).
  read -r pgver _ pgport pgstatus _ < <(pg_lsclusters -h | awk '$3 == 5432' | head -n 1) || true
  if [ -n "${pgver:-}" ]; then
    [ -f "/usr/share/postgresql/$pgver/extension/postgis.control" ] \
      || missing+=("postgresql-$pgver-postgis-3")
    if [ "${pgstatus:-}" != online ]; then
      as_root pg_ctlcluster --skip-systemctl-redirect "$pgver" main start || true
    fi
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python packages, from pyproject.toml. A Debian-managed Python refuses pip installs into
# the system (PEP 668): use a virtual environment in .venv there.
py=python3
if "$py" -c 'import sys, sysconfig, pathlib; sys.exit(not pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists())'; then
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  py=.venv/bin/python
fi
"$py" -m pip install -q --disable-pip-version-check -e ".[test]"

# Strict on a full run: a skipped test, or a run without any PostgreSQL test, fails
# (see tests/conftest.py).
if [ $# -eq 0 ]; then export GRIDMAP_STRICT=1; fi
"$py" -m ruff check .
# Static types of geo/ (configured in pyproject.toml: [tool.mypy]).
"$py" -m mypy
"$py" -m pytest "$@"
