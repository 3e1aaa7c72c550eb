"""Month-to-month stability of the bulletin's ranks: raw rates against shrunk rates.

For each of the last complete months of the demo database, ranks townships and
communities three ways and compares each month's ranks with the month before's:

* ``raw``: the observed rates, every unit ranked (the bulletin before issue 15);
* ``shrunk``: the rates shrunk toward the parent's (empirical Bayes), every unit ranked;
* ``shrunk, n ≥ MIN``: as the bulletin ranks now, units below the minimum sample unranked.

Per month and level it prints the Spearman rank correlation between the month's and the
previous month's ranks (over the units ranked in both) and the median absolute rank move,
and the median of each over the months.

    python -m bench.bulletin_stability [--db data/gridmap.db] [--months 6]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import bulletin  # noqa: E402
from geo.store import engine as store_engine  # noqa: E402

LEVELS = ("township", "community")


def variants() -> dict[str, dict]:
    """Name -> options of :func:`geo.bulletin.governance_index`."""
    least = bulletin.MIN_SAMPLE
    return {"raw": {"min_sample": 0, "strength": 0},
            "shrunk": {"min_sample": 0},
            f"shrunk, n ≥ {least}": {"min_sample": least}}


def stability(table: pd.DataFrame) -> tuple[float, float, int]:
    """Spearman ρ of rank vs last month's rank, median |move|, units ranked in both."""
    both = table[table["rank"].notna() & table["rank_prev"].notna()]
    rank = both["rank"].astype(float)
    prev = both["rank_prev"].astype(float)
    rho = float(stats.spearmanr(rank, prev).statistic) if len(both) > 2 else float("nan")
    return rho, float((rank - prev).abs().median()), len(both)


def measure(engine, months: list[pd.Period], now: datetime) -> pd.DataFrame:
    """One row per variant, level and month: rho, median move, units compared."""
    rows = []
    for month in months:
        for name, options in variants().items():
            for level in LEVELS:
                table = bulletin.governance_index(engine, month=month, level=level, now=now,
                                                  **options)
                rho, move, n = stability(table)
                rows.append({"variant": name, "level": level, "month": str(month),
                             "rho": rho, "median_move": move, "units": n,
                             "of": len(table)})
    return pd.DataFrame(rows)


def _machine() -> str:
    cpus = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{cpus} cores, {platform.system()} {platform.release()}, Python " \
           f"{platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(ROOT / "data" / "gridmap.db"))
    parser.add_argument("--months", type=int, default=6,
                        help="last complete months to compare with their previous month")
    args = parser.parse_args(argv)
    engine = store_engine.make_engine(f"sqlite:///{args.db}")
    found = bulletin.bulletin_months(engine)
    last = bulletin.default_month(found)
    if last is None:
        print("no months with requests", file=sys.stderr)
        return 1
    # A month needs the month before it to compare with.
    months = [m for m in found if m <= last][1:][-args.months:]
    now = datetime.utcnow()
    frame = measure(engine, months, now)
    print(f"# bulletin rank stability, {months[0]}…{months[-1]} vs each previous month; "
          f"{_machine()}; {now:%Y-%m-%d %H:%M} UTC")
    print("| level | variant | median Spearman ρ | median rank move (places, absolute) "
          "| units compared (median) | per month ρ |")
    print("|---|---|---|---|---|---|")
    for level in LEVELS:
        for name in variants():
            part = frame[(frame["variant"] == name) & (frame["level"] == level)]
            per = ", ".join(f"{r:.2f}" for r in part["rho"])
            print(f"| {level} | {name} | {statistics.median(part['rho']):.2f} | "
                  f"{statistics.median(part['median_move']):.0f} | "
                  f"{statistics.median(part['units']):.0f} of "
                  f"{statistics.median(part['of']):.0f} | {per} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
