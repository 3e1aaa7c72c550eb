"""Where the first paint's seconds go: the phases of one wall page load, warm server.

    python -m bench.paint_profile [--scale city] [--runs 3]

Prints, for each load in a fresh browser context, the time from navigation to: the HTML
(DOMContentLoaded), Streamlit's websocket opening, the first websocket message, the map
iframe attaching, the packed grid file arriving, and the map reporting its grids.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import datasets  # noqa: E402
from tests import browser as b  # noqa: E402

PHASES = ("html", "websocket open", "first ws frame", "map iframe", "grid file",
          "grids drawn")


def _load(browser, app) -> dict[str, float]:
    context, page, _watch = b.open_page(browser, app)
    marks: dict[str, float] = {}
    t0 = time.monotonic()

    def mark(name: str) -> None:
        marks.setdefault(name, time.monotonic() - t0)

    def on_ws(ws) -> None:
        mark("websocket open")
        ws.on("framereceived", lambda _p: mark("first ws frame"))

    page.on("websocket", on_ws)
    page.on("domcontentloaded", lambda: mark("html"))
    page.on("frameattached", lambda _f: mark("map iframe"))
    page.on("response", lambda r: mark("grid file") if "/grids-" in r.url else None)
    page.goto(app.url)
    b.map_frame(page, timeout=120)
    mark("grids drawn")
    context.close()
    return marks


def main(argv: list[str] | None = None) -> int:
    """Load the wall ``--runs`` times after one warm-up and print the phase medians."""
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="city", choices=datasets.SCALES)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    work = datasets.WORK / "paint_profile"
    copy = b.copy_demo(work / "db", source=datasets.sqlite_path(args.scale))
    app = b.start_app(f"sqlite:///{copy}", log_dir=work)
    try:
        with sync_playwright() as p:
            browser = b.launch(p)
            _load(browser, app)  # warm the server's caches
            loads = [_load(browser, app) for _ in range(args.runs)]
            browser.close()
    finally:
        b.stop_app(app)
    print("| phase (time since navigation) | median | runs |")
    print("|---|---|---|")
    for name in PHASES:
        values = [m[name] for m in loads if name in m]
        if values:
            print(f"| {name} | {statistics.median(values):.2f} s | "
                  f"{', '.join(f'{v:.2f}' for v in values)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
