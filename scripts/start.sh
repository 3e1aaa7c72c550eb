#!/usr/bin/env bash
# Install GridMap, build the demo city if asked, and run the dashboard.
#   bash scripts/start.sh --demo                     # the Yiyang demo (built once, in the terminal)
#   bash scripts/start.sh                            # your own database (GRIDMAP_DATABASE_URL)
#   bash scripts/start.sh --demo --server.port 8600  # other options go to streamlit
# GRIDMAP_INSTALL=0 skips the install step (an environment that is managed elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
[ "${GRIDMAP_DEMO:-}" = 1 ] && args=(--demo "${args[@]}")

# A Debian-managed Python refuses pip installs into the system (PEP 668): use a virtual
# environment in .venv there (the same check as scripts/test.sh).
py=python3
if "$py" -c 'import sys, sysconfig, pathlib; sys.exit(not pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists())'; then
  if [ ! -x .venv/bin/python ]; then
    echo "start: making .venv (this Python is managed by the system, PEP 668)"
    "$py" -m venv .venv
  fi
  py=.venv/bin/python
fi

# Install once, and again only when pyproject.toml changes (a restart skips pip).
if [ "${GRIDMAP_INSTALL:-1}" != 0 ]; then
  mkdir -p data
  stamp=data/.installed
  want="$("$py" -c 'import sys; print(sys.executable)') $(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "start: installing GridMap and its Python packages (once; a few minutes)"
    "$py" -m pip install -q --disable-pip-version-check -e .
    echo "$want" > "$stamp"
  fi
fi

# --demo (or GRIDMAP_DEMO=1) is the explicit choice of the demo: built with progress in the
# terminal before the server starts, on an empty database only (see ui/serve.py). Without
# it an empty database stays empty. Other arguments go to streamlit (--server.port 8600).
exec "$py" -m ui.serve --server.headless true "${args[@]}"
