"""Rows that run the app: warm rerun (AppTest), first paint and memory (headless Chromium).

The browser rows serve a copy of the dataset's SQLite file with ``streamlit run`` and block
every request to another host, as an isolated network would.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path

from bench import wall_refresh
from bench.context import Ctx
from bench.datasets import ROOT, WORK
from bench.report import Row
from bench.timing import median_time
from geo import maps
from geo.accounts import Account
from tests import browser as b
from tests.pages import map_file

APP = str(ROOT / "app.py")
NAIVE_APP = "bench/naive_app.py"
SESSIONS = 10


def _env(url: str) -> dict[str, str | None]:
    keys = {"GRIDMAP_DATABASE_URL": url, "GRIDMAP_DEMO": ""}  # never build the demo
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    return old


def _restore(old: dict[str, str | None]) -> None:
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def rerun(ctx: Ctx) -> list[Row]:
    """The wall page rerun server side (AppTest): warm caches vs every cache cleared first."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    old = _env(ctx.url)
    try:
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=900)
        # Signed in, as the page tests are: otherwise this would time the sign-in form.
        at.session_state["_account"] = Account("admin", "admin", "admin", ())
        t0 = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"the wall page failed: {at.exception}")
        t_warm, _ = median_time(at.run, ctx.runs)
        sent = [("whole area", _sent(at))]
        county = _largest_county(ctx)
        if county is not None:
            filtered = AppTest.from_file(APP, default_timeout=900)
            filtered.session_state["_account"] = Account("admin", "admin", "admin", ())
            filtered.query_params["area"] = county
            filtered.run()
            if filtered.exception:
                raise RuntimeError(f"the wall page failed: {filtered.exception}")
            sent.append((f"area={county}, the largest county", _sent(filtered)))

        def uncached():
            st.cache_data.clear()
            st.cache_resource.clear()
            at.run()

        # Caches off at province scale means minutes per run: one run there.
        naive_runs = 1 if ctx.scale == "province" else ctx.runs
        t_off, _ = median_time(uncached, naive_runs)
        if at.exception:
            raise RuntimeError(f"the wall page failed: {at.exception}")
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        _restore(old)
    limit = 1.5 if ctx.scale == "province" else 0.3
    note = f"first run in the process {cold:.1f} s"
    if naive_runs == 1 and ctx.runs > 1:
        note += "; caches off: 1 run"
    rows = [Row("rerun", "warm rerun of the wall page, server side (AppTest)", ctx.label,
                ctx.backend, t_warm, "s", t_off, "same page, caches cleared",
                target="≤ 1.5 s" if ctx.scale == "province" else "≤ 0.3 s", limit=limit,
                note=note)]
    for where, (n, kb, kinds) in sent:
        rows.append(Row("rerun", f"polygons the wall page sends, {where} ({kinds}, "
                        f"{kb:,.0f} KB packed file)", ctx.label, ctx.backend, float(n),
                        "polygons", float(len(ctx.grids)), "every grid",
                        target="≤ 10,000 at once", limit=maps.MAX_POLYGONS))
    return rows


def _sent(at) -> tuple[int, float, str]:
    """Polygons in the packed file the page's map fetches, its size and what they are."""
    doc = map_file(at)
    names = {6: "counties", 9: "townships", 12: "communities", 15: "grids"}
    kinds = "/".join(sorted({names.get(len(c), "?") for c in doc["codes"]}))
    size = len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
    return len(doc["codes"]), size / 1e3, kinds


def _largest_county(ctx: Ctx) -> str | None:
    counties = ctx.grids["code"].astype(str).str[:6].value_counts()
    return None if counties.empty else str(counties.index[0])


_NAIVE_PAINTED = "() => document.querySelectorAll('.leaflet-interactive').length"


def _naive_frame(page, *, timeout: float):
    """The naive page's map frame once Leaflet drew polygons in it; None at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame is page.main_frame:
                continue
            try:
                if frame.evaluate(_NAIVE_PAINTED):
                    return frame
            except Exception:  # noqa: S112 - a frame navigating or detached
                continue
        page.wait_for_timeout(200)
    return None


def _paints(app: b.App, *, runs: int, naive: bool, give_up: float) -> tuple[list[float], dict]:
    """Navigation → painted map in a fresh browser context per run, after one warm-up load."""
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    info: dict = {"outside": 0, "painted": True}
    with sync_playwright() as p:
        browser = b.launch(p)
        try:
            for i in range(runs + 1):  # load 0 warms the server's caches
                # GridMap's page sits behind a sign-in (done before the clock starts, the
                # cookie then resumes it); the naive page has none.
                context, page, watch = b.open_page(browser, app,
                                                   user=None if naive else "admin")
                t0 = time.monotonic()
                page.goto(app.url)
                if naive:
                    frame = _naive_frame(page, timeout=give_up)
                else:
                    try:
                        frame = b.map_frame(page, timeout=give_up)
                    except TimeoutError:
                        frame = None
                took = time.monotonic() - t0
                info["outside"] = max(info["outside"], len(set(watch.outside)))
                context.close()
                if frame is None:
                    info["painted"] = False
                    info["gave_up"] = took
                    return [float("inf")], info
                if i == 0:
                    info["cold"] = took
                else:
                    times.append(took)
        finally:
            browser.close()
    return times, info


def paint(ctx: Ctx) -> list[Row]:
    """First page: navigation → painted map, GridMap wall vs ``st_folium(gdf.explore())``."""
    give_up = 15.0 if ctx.quick else 60.0
    work = WORK / "paint"
    copy = b.copy_demo(work / "db", source=ctx.sqlite)
    url = f"sqlite:///{copy}"
    env = {"PYTHONPATH": str(ROOT)}
    app = b.start_app(url, log_dir=work, extra_env=env)
    try:
        ours, ours_info = _paints(app, runs=ctx.runs, naive=False, give_up=give_up * 2)
    finally:
        b.stop_app(app)
    naive = b.start_app(url, log_dir=work, extra_env=env, script=NAIVE_APP)
    try:
        theirs, naive_info = _paints(naive, runs=ctx.runs, naive=True, give_up=give_up)
    finally:
        b.stop_app(naive)
    t_ours = statistics.median(ours)
    t_naive = statistics.median(theirs)
    if naive_info["painted"]:
        base_what = "st_folium(gdf.explore())"
    else:
        base_what = (f"st_folium(gdf.explore()) never painted offline: gave up after "
                     f"{naive_info['gave_up']:.0f} s; blocked request(s) to other hosts: "
                     f"{naive_info['outside']}")
    limit = 8.0 if ctx.scale == "province" else 3.0
    note = f"warm server; cold server {ours_info.get('cold', float('nan')):.1f} s"
    if ours_info["outside"]:
        note += f"; {ours_info['outside']} outside requests blocked"
    return [Row("paint", "first page, navigation → painted map, headless Chromium, offline",
                ctx.label, "sqlite", t_ours, "s", t_naive, base_what,
                target="≤ 8 s" if ctx.scale == "province" else "≤ 3 s", limit=limit,
                note=note)]


class _Sampler:
    """Samples a process tree's RSS every 0.2 s in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, b.rss_kib(self.pid))
            self._stop.wait(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def memory(ctx: Ctx) -> list[Row]:
    """Peak RSS with 10 wall sessions open; RSS growth and bytes over N wall refreshes."""
    from playwright.sync_api import sync_playwright

    sessions = 2 if ctx.quick else SESSIONS
    refreshes = ctx.refreshes or (10 if ctx.quick else 500)
    work = WORK / "memory"
    copy = b.copy_demo(work / "db", source=ctx.sqlite)
    app = b.start_app(f"sqlite:///{copy}", log_dir=work, extra_env={"PYTHONPATH": str(ROOT)})
    idle = b.rss_kib(app.pid)
    sampler = _Sampler(app.pid)
    try:
        with sync_playwright() as p:
            browser = b.launch(p)
            opened = []
            for _ in range(sessions):
                context, page, _watch = b.open_page(browser, app)
                page.goto(app.url)
                b.map_frame(page, timeout=180)
                opened.append(context)
            time.sleep(3)
            for context in opened:
                context.close()
            browser.close()
    finally:
        peak = sampler.stop()
        b.stop_app(app)
    result = wall_refresh.run(refreshes=refreshes, refresh=1, db=Path(ctx.sqlite))
    s = wall_refresh.summarise(result)
    label = ctx.label
    return [
        Row("memory", f"peak RSS of the app process, {sessions} sessions open", label,
            "sqlite", peak / 1024, "MiB", note=f"idle server {idle / 1024:.0f} MiB"),
        Row("memory", f"RSS growth over {s['refreshes']} wall refreshes (end − first)",
            label, "sqlite", s["rss_end_mib"] - s["rss_start_mib"], "MiB",
            target="no growth", note=f"after warm-up {s['growth_after_warm_mib']:+.1f} MiB; "
            f"slope {s['slope_mib_per_100']:+.2f} MiB/100; max {s['rss_max_mib']:.0f} MiB"),
        Row("wall", "wall refresh payload (websocket bytes per refresh, median)", label,
            "sqlite", s["ws_per_refresh_kb_median"] * 1000, "bytes",
            target="≤ 200 KB; map not rebuilt", limit=200_000,
            note=f"max {s['ws_per_refresh_kb_max']:.0f} KB; map iframe "
            f"{'kept' if s['mounted'] == 1 else 'REMOUNTED'}"),
    ]
