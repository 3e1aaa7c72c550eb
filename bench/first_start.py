"""First start and restart, timed as a user lives them: the README's command to a painted map.

``python -m bench.first_start [--runs 3]`` runs ``bash scripts/start.sh --demo`` on an empty
data folder (its own, under bench/_work/), opens Chromium as soon as the server answers,
signs in as the demo admin and waits until the wall's Leaflet frame reports its grids. Then
it stops the server and starts it again on the same database, and times the command to the
sign-in form. Medians go to bench/RESULTS.md by hand.

The install step is skipped (``GRIDMAP_INSTALL=0``): this environment is already installed,
and pip's time depends on the network, not on GridMap. tests/test_start.py runs the same
function once and asserts that it works, not how fast.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests import browser as b

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work" / "first_start"
#: A demo progress line of ``gridmap init-demo``: ``[  4.2s  60%] init-demo: …``.
PROGRESS = re.compile(r"^\[\s*[\d.]+s\s+\d+%\] init-demo: ", re.M)
#: ``gridmap init-demo``'s last line: ``demo (city, seed 2021) written to … in 16.5 s``.
BUILT = re.compile(r"^demo \(city.* in ([\d.]+) s$", re.M)


@dataclass
class Start:
    """One start: seconds from the command to each milestone, and what the browser saw."""

    health_s: float = 0.0
    form_s: float = 0.0
    map_s: float | None = None
    grids: int = 0
    progress_lines: int = 0
    demo_s: float | None = None
    nav_before_sign_in: set[str] = field(default_factory=set)
    log: str = ""


def _command(port: int, db_url: str, log: Path) -> tuple[subprocess.Popen, float]:
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_DEMO"}
    env.update(GRIDMAP_DATABASE_URL=db_url, GRIDMAP_INSTALL="0", PYTHONUNBUFFERED="1")
    out = open(log, "w")  # noqa: SIM115 - the server writes to it until stopped
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["bash", "scripts/start.sh", "--demo", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, started


def _wait_health(proc: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"start.sh exited with {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no answer in {timeout:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")


def _form(page, url: str, timeout: float) -> set[str]:
    """Open ``url`` and wait for the sign-in form; return page names seen in a sidebar."""
    seen: set[str] = set()
    page.goto(f"{url}/")
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen.update(x.strip() for x in
                    page.locator('[data-testid="stSidebarNav"] a').all_inner_texts())
        if b.login_form(page).count():
            break
        page.wait_for_timeout(50)
    else:
        raise TimeoutError(f"no sign-in form in {timeout:.0f} s")
    return seen


def run_start(browser, *, work: Path, db_url: str, paint: bool,
              timeout: float = 600) -> Start:
    """Run ``scripts/start.sh --demo`` on ``db_url`` and time it; stop the server after.

    With ``paint`` the admin signs in and the wall's map must show every grid.
    """
    work.mkdir(parents=True, exist_ok=True)
    port = b.free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / f"start-{port}.log"
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    proc, started = _command(port, db_url, log)
    result = Start()
    try:
        _wait_health(proc, url, log, timeout)
        result.health_s = time.perf_counter() - started
        result.nav_before_sign_in = _form(page, url, timeout)
        result.form_s = time.perf_counter() - started
        if paint:
            app = b.App(url=url, proc=proc, db_url=db_url, log=log)
            b.sign_in(page, app, "admin", timeout=timeout)
            result.grids = b.grid_count(Path(db_url.removeprefix("sqlite:///")))
            b.map_frame(page, expected=result.grids, timeout=timeout)
            result.map_s = time.perf_counter() - started
    except Exception as exc:
        try:
            shown = page.inner_text("body")[:1500]
        except Exception:  # noqa: BLE001 - the page itself is gone
            shown = "?"
        raise RuntimeError(f"{exc}\n--- page ---\n{shown}\n--- server ---\n"
                           f"{log.read_text(errors='replace')[-3000:]}") from exc
    finally:
        context.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        result.log = log.read_text(errors="replace")
        result.progress_lines = len(PROGRESS.findall(result.log))
        built = BUILT.search(result.log)
        result.demo_s = float(built.group(1)) if built else None
    return result


def main(argv: list[str] | None = None) -> int:
    """Time ``--runs`` first starts and restarts; print the medians."""
    parser = argparse.ArgumentParser(prog="python -m bench.first_start")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    first: list[Start] = []
    again: list[Start] = []
    with sync_playwright() as p:
        browser = b.launch(p)
        for i in range(args.runs):
            work = WORK / f"run{i}"
            shutil.rmtree(work, ignore_errors=True)
            db_url = f"sqlite:///{work / 'data' / 'gridmap.db'}"
            (work / "data").mkdir(parents=True)
            first.append(run_start(browser, work=work, db_url=db_url, paint=True))
            again.append(run_start(browser, work=work, db_url=db_url, paint=False))
            print(f"run {i + 1}: demo built in {first[-1].demo_s} s; "
                  f"first start {first[-1].map_s:.1f} s to the painted map "
                  f"(server up {first[-1].health_s:.1f} s, sign-in form {first[-1].form_s:.1f} s); "
                  f"restart {again[-1].form_s:.1f} s to the sign-in form "
                  f"(server up {again[-1].health_s:.1f} s)", flush=True)
        browser.close()

    def med(values: list[float | None]) -> float:
        return statistics.median(v for v in values if v is not None)

    print(f"\nmedian of {args.runs} on {os.cpu_count()} cores: first start "
          f"{med([r.map_s for r in first]):.1f} s to the painted map "
          f"(server up {med([r.health_s for r in first]):.1f} s, includes the demo build); "
          f"restart {med([r.form_s for r in again]):.1f} s to the sign-in form "
          f"(server up {med([r.health_s for r in again]):.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
