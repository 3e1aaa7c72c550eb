"""The README's first command, as a first user runs it: scripts/start.sh --demo on an empty
data folder, to a painted map in Chromium, then a restart to the sign-in form.

The run is bench/first_start.py's (its times go to bench/RESULTS.md); here it must work:
the demo is built in the terminal with progress before the server answers, the first
browser sees no raw page names, the admin's wall paints every grid, and a restart reuses
the database. The install step is skipped (the test environment is installed).
"""

from __future__ import annotations

import pytest

from bench.first_start import run_start

pytestmark = pytest.mark.browser

pytest.importorskip("playwright.sync_api")


def test_first_start_paints_the_map_and_a_restart_reuses_the_demo(tmp_path, chromium):
    db_url = f"sqlite:///{tmp_path / 'data' / 'gridmap.db'}"
    (tmp_path / "data").mkdir()
    first = run_start(chromium, work=tmp_path, db_url=db_url, paint=True)
    assert first.progress_lines >= 10, first.log[-2000:]
    assert "100%] init-demo: " in first.log
    # Built before the server started: the progress is in the log before Streamlit's URL.
    assert first.log.index("init-demo: ") < first.log.index("URL: http")
    assert first.grids > 6000 and first.map_s is not None
    assert first.nav_before_sign_in == set()
    again = run_start(chromium, work=tmp_path, db_url=db_url, paint=False)
    assert "already holds data: the demo is not built again" in again.log
    assert again.progress_lines == 0
    assert again.nav_before_sign_in == set()
    assert again.form_s > 0
