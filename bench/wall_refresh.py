"""Wall-screen soak: server memory, the browser page's heap and DOM, websocket bytes.

Starts ``streamlit run app.py`` on a copy of the demo database, opens the kiosk wall
(``/?kiosk=1&refresh=1``) in headless Chromium with every non-local request blocked, and
lets it refresh N times, or for a number of minutes (counted by the kiosk clock, which
shows the refresh's cut-off to the second and changes at every refresh). Every 10
refreshes it samples the server's RSS (VmRSS, with its children) and, through the Chrome
DevTools protocol, the page's JS heap, DOM nodes and event listeners (all frames), and
the elements of the map's frame.

    python -m bench.wall_refresh [--refreshes 500 | --minutes 30] [--refresh 1]
                                 [--db data/gridmap.db] [--results bench/RESULTS.md]

Prints the figures and, with ``--results``, appends a section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import browser as b  # noqa: E402

WORK = ROOT / "bench" / "_work" / "wall_refresh"
WARMUP = 50


def _machine() -> str:
    cpus = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu if ln.startswith("Model name")),
                 "?")
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "0")
    from importlib.metadata import version


    return (f"{cpus} CPUs ({model}), {int(mem) / 2**20:.0f} GiB, Linux "
            f"{platform.release()}, Python {platform.python_version()}, streamlit "
            f"{version('streamlit')}, streamlit-folium {version('streamlit-folium')}, "
            f"chromium {_chromium_version()}")


def _chromium_version() -> str:
    out = subprocess.run([b.CHROMIUM, "--version"], capture_output=True, text=True).stdout
    return out.split()[1] if len(out.split()) > 1 else "?"


def _page_metrics(cdp, frame) -> dict[str, float]:
    """The page's JS heap (bytes), DOM nodes and listeners, and the map frame's elements."""
    got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"heap": got.get("JSHeapUsedSize", float("nan")),
            "nodes": got.get("Nodes", float("nan")),
            "listeners": got.get("JSEventListeners", float("nan")),
            "frame_elements": frame.evaluate("() => document.getElementsByTagName('*').length")}


def run(*, refreshes: int, refresh: int, db: Path, sample_every: int = 10,
        minutes: float | None = None) -> dict:
    """Drive the kiosk wall for ``refreshes`` refreshes (or ``minutes``); return the figures."""
    copy = b.copy_demo(WORK / "db", source=db)
    app = b.start_app(f"sqlite:///{copy}", log_dir=WORK)
    samples: list[tuple[int, float, int]] = []  # (refresh, seconds, RSS KiB)
    browser_samples: list[tuple[int, float, dict]] = []  # (refresh, seconds, page metrics)
    ws_marks: list[tuple[int, int]] = []  # (refresh, websocket bytes received so far)
    until = None if minutes is None else time.monotonic() + minutes * 60
    try:
        with sync_playwright() as p:
            browser = b.launch(p)
            context, page, watch = b.open_page(browser, app, width=1920, height=1080)
            t0 = time.monotonic()
            page.goto(f"{app.url}/?kiosk=1&refresh={refresh}")
            frame = b.map_frame(page, timeout=120)
            first_paint = time.monotonic() - t0
            frame.evaluate("() => { window.__mounted = 1; }")
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            header = page.locator("h2", has_text="更新于").first
            last = header.inner_text()
            count = 0
            start = time.monotonic()
            samples.append((0, 0.0, b.rss_kib(app.pid)))
            browser_samples.append((0, 0.0, _page_metrics(cdp, frame)))
            ws_marks.append((0, watch.ws_received))
            stalled = time.monotonic()
            while (count < refreshes) if until is None else (time.monotonic() < until):
                page.wait_for_timeout(100)
                now_text = header.inner_text()
                if now_text != last:
                    last = now_text
                    count += 1
                    stalled = time.monotonic()
                    if count % sample_every == 0:
                        samples.append((count, time.monotonic() - start, b.rss_kib(app.pid)))
                        page_now = _page_metrics(cdp, frame)
                        browser_samples.append((count, samples[-1][1], page_now))
                        ws_marks.append((count, watch.ws_received))
                        print(f"refresh {count:4d}  {samples[-1][1]:7.1f} s  "
                              f"RSS {samples[-1][2] / 1024:7.1f} MiB  heap "
                              f"{page_now['heap'] / 2**20:6.1f} MiB  nodes "
                              f"{page_now['nodes']:.0f}  listeners {page_now['listeners']:.0f}"
                              f"  map frame {page_now['frame_elements']:.0f}", flush=True)
                elif time.monotonic() - stalled > 60:
                    raise RuntimeError(f"no refresh for 60 s after {count}:\n{app.log_tail()}")
            elapsed = time.monotonic() - start
            mounted = frame.evaluate("() => window.__mounted")
            problems = watch.problems()
            b.screenshot(page, "bench_wall_kiosk")
            context.close()
            browser.close()
    finally:
        b.stop_app(app)
    return {"samples": samples, "ws": ws_marks, "elapsed": elapsed, "first_paint": first_paint,
            "mounted": mounted, "problems": problems, "refresh": refresh,
            "browser": browser_samples}


def _slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of value on seconds, per hour."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(xs) < 2:
        return float("nan")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 3600


def browser_summary(result: dict) -> dict:
    """First, last and the slope per hour after warm-up of each page metric."""
    after = [s for s in result["browser"] if s[0] >= WARMUP] or result["browser"]
    out = {}
    for key in ("heap", "nodes", "listeners", "frame_elements"):
        out[key] = {"start": result["browser"][0][2][key], "end": after[-1][2][key],
                    "max": max(s[2][key] for s in after),
                    "per_hour": _slope_per_hour([(s[1], s[2][key]) for s in after])}
    out["rss_per_hour_mib"] = _slope_per_hour(
        [(s[1], s[2] / 1024) for s in result["samples"] if s[0] >= WARMUP])
    return out


def summarise(result: dict) -> dict:
    """RSS at start, after warm-up and at the end; growth per 100; bytes per refresh."""
    samples = result["samples"]
    start = samples[0][2]
    warm = min(samples, key=lambda s: abs(s[0] - WARMUP))
    end = samples[-1]
    after = [s for s in samples if s[0] >= warm[0]]
    # Least-squares slope of RSS on refreshes after warm-up, per 100 refreshes.
    xs = [s[0] for s in after]
    ys = [s[2] for s in after]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 100
    ws = result["ws"]
    per_refresh = [(b1 - b0) / (r1 - r0) for (r0, b0), (r1, b1) in zip(ws, ws[1:], strict=False)
                   if r0 >= WARMUP] or [(ws[-1][1] - ws[0][1]) / max(ws[-1][0], 1)]
    return {"refreshes": end[0], "elapsed": result["elapsed"],
            "rss_start_mib": start / 1024, "rss_warm_mib": warm[2] / 1024,
            "warm_at": warm[0], "rss_end_mib": end[2] / 1024,
            "rss_max_mib": max(ys) / 1024,
            "growth_after_warm_mib": (end[2] - warm[2]) / 1024,
            "slope_mib_per_100": slope / 1024,
            "ws_per_refresh_kb_median": statistics.median(per_refresh) / 1000
            if per_refresh else float("nan"),
            "ws_per_refresh_kb_max": max(per_refresh) / 1000 if per_refresh else float("nan"),
            "first_ws_kb": ws[0][1] / 1000,
            "first_paint_s": result["first_paint"], "mounted": result["mounted"],
            "problems": result["problems"]}


def report(s: dict, machine: str, *, args: str, page: dict | None = None) -> str:
    """The RESULTS.md section."""
    each = s["elapsed"] / max(s["refreshes"], 1)
    rows = [
        ("refreshes run", f"{s['refreshes']} in {s['elapsed']:.0f} s ({each:.2f} s each)", "–"),
        ("server RSS at the first refresh", f"{s['rss_start_mib']:.0f} MiB", "–"),
        (f"after warm-up ({s['warm_at']} refreshes)", f"{s['rss_warm_mib']:.0f} MiB", "–"),
        ("at the end", f"{s['rss_end_mib']:.0f} MiB (max {s['rss_max_mib']:.0f} MiB)",
         "no growth"),
        ("growth after warm-up",
         f"{s['growth_after_warm_mib']:+.1f} MiB; slope {s['slope_mib_per_100']:+.2f} MiB "
         "per 100 refreshes", "≈ 0"),
        ("websocket bytes per refresh (median / max, after warm-up)",
         f"{s['ws_per_refresh_kb_median']:.1f} KB / {s['ws_per_refresh_kb_max']:.1f} KB",
         "≤ 200 KB"),
        ("websocket bytes of the first page load", f"{s['first_ws_kb']:.0f} KB", "–"),
        ("first load on a cold server → grids painted", f"{s['first_paint_s']:.1f} s", "≤ 3 s"),
        ("map iframe remounted during the run", "no" if s["mounted"] == 1 else "YES", "no"),
        ("requests to other hosts, console errors", str(len(s["problems"])), "0"),
    ]
    if page is not None:
        rows.insert(5, ("server RSS slope after warm-up",
                        f"{page['rss_per_hour_mib']:+.1f} MiB per hour", "≈ 0"))
        for key, name, unit, scale in (("heap", "page JS heap (all frames)", "MiB", 2**20),
                                       ("nodes", "page DOM nodes (all frames)", "", 1),
                                       ("listeners", "page event listeners", "", 1),
                                       ("frame_elements", "elements in the map's frame", "",
                                        1)):
            m = page[key]
            f = ",.1f" if scale > 1 else ",.0f"
            rows.append((name, f"{m['start'] / scale:{f}} → {m['end'] / scale:{f}} {unit} "
                               f"(max {m['max'] / scale:{f}}); slope "
                               f"{m['per_hour'] / scale:+{f}} {unit} per hour".replace(
                                   "  ", " "), "no growth"))
    table = "\n".join(f"| {a} | {b_} | {c} |" for a, b_, c in rows)
    return f"""
## Wall refresh soak (issue 4; page heap and DOM since issue 17)

Command: `python -m bench.wall_refresh {args}` ({date.today():%Y-%m-%d}). The kiosk wall
(`/?kiosk=1&refresh={s['refresh']}`, whole city, 6,017 grids) in headless Chromium, offline,
on a copy of the demo database; refreshes counted by the kiosk clock; server RSS (VmRSS of
`streamlit run` and its children) sampled every 10 refreshes. Machine: {machine}.

| what | figure | design target |
|---|---|---|
{table}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=None,
                        help="run for this long instead of a number of refreshes")
    parser.add_argument("--refresh", type=int, default=1)
    parser.add_argument("--db", type=Path, default=b.DEMO_DB)
    parser.add_argument("--results", type=Path, default=None,
                        help="append a section to this markdown file")
    args = parser.parse_args(argv)
    result = run(refreshes=args.refreshes, refresh=args.refresh, db=args.db,
                 minutes=args.minutes)
    summary = summarise(result)
    summary["refresh"] = args.refresh
    machine = _machine()
    length = (f"--minutes {args.minutes:g}" if args.minutes is not None
              else f"--refreshes {args.refreshes}")
    text = report(summary, machine, args=f"{length} --refresh {args.refresh}",
                  page=browser_summary(result))
    print(text)
    print("samples (refresh, s, RSS KiB):", result["samples"])
    if summary["problems"]:
        print("problems:", summary["problems"])
    if args.results:
        with open(args.results, "a") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
