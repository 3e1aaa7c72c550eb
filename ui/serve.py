"""Start the dashboard: ``python -m ui.serve [--demo] [streamlit options]`` (scripts/start.sh).

It is ``streamlit run app.py`` with two differences that make the first page quick:

* Streamlit is told up front that app.py declares its own pages (``st.navigation``). Left to
  itself, a fresh server treats pages/ as an old-style multipage folder until app.py first
  runs: its first visitor's script run is spent on a rerun, and its sidebar briefly lists
  the raw file names (app, bulletin, data…) on the sign-in page.
* The domain library and what it imports (pandas, GeoPandas, SQLAlchemy, folium…: most of
  the 3 s of imports) are loaded while the server waits for its first browser, not when
  that browser arrives.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The domain library under the pages (pandas, GeoPandas, SQLAlchemy, Alembic, folium…),
#: slowest first. Only geo/, which never imports Streamlit: a Streamlit component or cache
#: declared outside a script run is not the one the session later uses (a map component
#: imported here stayed blank).
WARM = ("geo.accounts", "geo.store.engine", "geo.maps", "geo.heat", "geo.wall", "geo.deadlines",
        "geo.escalation", "geo.detail", "geo.worklist", "geo.coverage", "geo.hotspots",
        "geo.bulletin", "geo.export", "alembic.runtime.migration")


def _warm() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page's own import will show the error
            return


def main(argv: list[str] | None = None) -> int:
    """Run Streamlit on app.py in this process, after the two steps above.

    ``--demo`` first builds the demo city on an empty database (``gridmap init-demo
    --if-empty``, progress in the terminal) and sets ``GRIDMAP_DEMO=1``; every other
    argument goes to ``streamlit run``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    os.chdir(ROOT)  # data/, .streamlit/config.toml and static/ are found from here
    if "--demo" in args:
        args.remove("--demo")
        from geo import cli as geo_cli

        if geo_cli.main(["init-demo", "--if-empty"]) != 0:
            return 1
        os.environ["GRIDMAP_DEMO"] = "1"
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    threading.Thread(target=_warm, name="gridmap-warm-imports", daemon=True).start()
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *args]
    cli.main()  # exits with Streamlit's status
    return 0


if __name__ == "__main__":
    sys.exit(main())
