"""Benchmark rows: what one measurement is, how it prints, and the RESULTS.md section."""

from __future__ import annotations

import math
import os
import platform
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"


@dataclass
class Row:
    """One measured figure, its naive baseline from the same run, and its DESIGN §9 target.

    ``unit`` is "s", "bytes", "points/s", "rows/s", "MiB" or "polygons". For a rate (``higher``) the
    ratio is ours / baseline, otherwise baseline / ours: either way, above 1 means GridMap
    does better. ``limit`` is the target's bound on ``ours``; ``min_ratio`` a bound on the
    ratio ("≥ 5× smaller than explore()").
    """

    key: str
    what: str
    scale: str
    backend: str
    ours: float
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    target: str = ""
    limit: float | None = None
    min_ratio: float | None = None
    higher: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.ours or not math.isfinite(self.baseline):
            return None
        return self.ours / self.baseline if self.higher else self.baseline / self.ours

    def verdict(self) -> str:
        """"pass", "miss (…)" or "" when the row has no target."""
        misses = []
        if self.limit is not None:
            ok = self.ours >= self.limit if self.higher else self.ours <= self.limit
            if not ok:
                misses.append(f"{abs(self.ours / self.limit - 1):.0%} "
                              f"{'short' if self.higher else 'over'}")
        if self.min_ratio is not None:
            r = self.ratio
            if r is None or r < self.min_ratio:
                misses.append(f"ratio {r or 0:.1f}× < {self.min_ratio:g}×")
        if self.limit is None and self.min_ratio is None:
            return ""
        return "miss: " + ", ".join(misses) if misses else "pass"


def fmt(value: float | None, unit: str) -> str:
    """A value with its unit, rounded for reading."""
    if value is None:
        return "–"
    if not math.isfinite(value):
        return "did not finish"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "bytes":
        return f"{value / 1e6:.2f} MB" if value >= 1e6 else f"{value / 1e3:.0f} KB"
    if unit in ("points/s", "rows/s", "polygons"):
        return f"{value:,.0f} {unit}"
    if unit == "MiB":
        return f"{value:+.1f} MiB" if value < 0 else f"{value:.1f} MiB"
    return f"{value:g} {unit}"


HEADER = ("what", "scale", "backend", "GridMap", "naive baseline (same run)", "ratio",
          "target", "result")


def cells(row: Row) -> list[str]:
    """The row's table cells, in :data:`HEADER` order."""
    base = ""
    if row.baseline is not None:
        base = f"{row.baseline_what}: {fmt(row.baseline, row.unit)}".lstrip(": ")
    ratio = f"{row.ratio:,.1f}×" if row.ratio is not None else ""
    what = row.what + (f" ({row.note})" if row.note else "")
    return [what, row.scale, row.backend, fmt(row.ours, row.unit), base, ratio, row.target,
            row.verdict()]


def plain_table(rows: list[Row]) -> str:
    """A fixed-width table for the terminal."""
    table = [list(HEADER), *(cells(r) for r in rows)]
    widths = [min(max(len(r[i]) for r in table), 60) for i in range(len(HEADER))]
    lines = []
    for i, r in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in cells(r)) + " |" for r in rows]
    return "\n".join(out)


def machine() -> str:
    """CPU model, cores, RAM, kernel, Python, SQLite and PostgreSQL versions."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "0")
    return (f"{os.cpu_count()} cores ({model}), {int(mem) / 2**20:.0f} GiB RAM, Linux "
            f"{platform.release()}, Python {platform.python_version()}, SQLite "
            f"{sqlite3.sqlite_version}, PostgreSQL {_pg_version()}, Chromium "
            f"{_chromium_version()}")


def _pg_version() -> str:
    from sqlalchemy import create_engine, text

    from bench.datasets import PG_ADMIN_URL
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        eng.dispose()
        return str(version).split()[0]
    except Exception:  # the version line must not fail the benchmark
        return "unavailable"


def _chromium_version() -> str:
    try:
        out = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True,
                             text=True, timeout=20).stdout.split()
        return out[1] if len(out) > 1 else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"


def section(rows: list[Row], *, command: str, runs: int, seconds: float,
            notes: list[str]) -> str:
    """The generated RESULTS.md section, between the markers."""
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    extra = "".join(f"* {n}\n" for n in notes)
    return (f"{START}\n## Suite: `{command}`\n\n"
            f"Generated by `python -m bench` on {when} in {seconds / 60:.1f} min. Machine: "
            f"{machine()}. Each figure is the median of {runs} run{'s' if runs != 1 else ''}"
            f" unless its row says otherwise; each ratio compares with the naive way measured"
            f" in the same run on the same data (above 1: GridMap does better). Load average"
            f" (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n"
            f"{markdown_table(rows)}\n\n{extra}{END}")


def write_section(path: Path, text: str) -> None:
    """Replace the generated section of ``path`` (or add it at the top, after the title)."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _m: text, old, count=1)
    else:
        head, sep, rest = old.partition("\n")
        new = f"{head}{sep}\n{text}\n{rest}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
