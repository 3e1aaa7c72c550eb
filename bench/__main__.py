"""``python -m bench``: the DESIGN §9 benchmark suite, side by side with the naive way.

    python -m bench [--quick] [--scale city|province|both] [--backend sqlite|postgresql|both]
                    [--runs N] [--only ROW …] [--results PATH] [--refreshes N]

Builds or reuses the datasets under bench/_work/data/, measures each row (median of
``--runs`` runs, each naive baseline in the same run), prints a table and replaces the
generated section of bench/RESULTS.md (between ``<!-- bench:start -->`` and
``<!-- bench:end -->``). ``--quick`` runs every row once on a 300-grid dataset built in
seconds; the tests run it so that the benchmark cannot rot. Its tiny-scale table goes to
bench/_work/RESULTS-quick.md (not committed) unless ``--results`` names a file, so that it
never replaces the recorded city and province figures. Rows: payload, polygons, assign,
counts, hotspots, rerun, paint, memory, updates, deadlines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The checkout's own packages (geo, ui, tests) win over an installed copy.
sys.path.insert(0, str(ROOT))

from bench import report, suite  # noqa: E402


def results_path(given: Path | None, *, quick: bool) -> Path:
    """The file whose generated section a run replaces: a quick run's never is RESULTS.md.

    Unless ``given`` names one, a full run writes bench/RESULTS.md and a quick run (tiny
    scale, one run) bench/_work/RESULTS-quick.md.
    """
    if given is not None:
        return given
    return suite.quick_results() if quick else suite.default_results()


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return 1 if a row failed to run (a missed target is not a failure)."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny dataset (300 grids, 5,000 requests), 1 run, short soak")
    ap.add_argument("--scale", choices=["city", "province", "both"], default="both")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--runs", type=int, default=None, help="runs per median (default 5)")
    ap.add_argument("--only", nargs="+", choices=list(suite.ROWS), default=list(suite.ROWS),
                    metavar="ROW", help=f"rows to run: {', '.join(suite.ROWS)}")
    ap.add_argument("--results", type=Path, default=None,
                    help="markdown file whose generated section is replaced (default "
                         "bench/RESULTS.md; with --quick, bench/_work/RESULTS-quick.md)")
    ap.add_argument("--no-results", action="store_true", help="print only")
    ap.add_argument("--refreshes", type=int, default=None,
                    help="wall refreshes of the memory soak (default 500, quick 20)")
    ap.add_argument("--province-requests", type=int, default=None,
                    help="requests in the province SQLite dataset (default 10 M)")
    ap.add_argument("--pg-province-requests", type=int, default=10_000_000,
                    help="requests loaded into PostgreSQL at province scale")
    args = ap.parse_args(argv)
    if args.quick:
        scales: tuple[str, ...] = ("tiny",)
    elif args.scale == "both":
        scales = ("city", "province")
    else:
        scales = (args.scale,)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    opts = suite.Options(scales=scales, backends=backends,
                         runs=args.runs or (1 if args.quick else 5), only=tuple(args.only),
                         quick=args.quick, refreshes=args.refreshes,
                         province_requests=args.province_requests,
                         pg_province_requests=args.pg_province_requests)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    out = suite.run(opts, log=log)
    seconds = time.perf_counter() - t0
    print(report.plain_table(out.rows))
    for f in out.failures:
        print(f"FAILED: {f}")
    print(f"\n{len(out.rows)} rows in {seconds:.0f} s")
    if not args.no_results:
        results = results_path(args.results, quick=args.quick)
        command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
        notes = out.notes + [f"Row failed to run: {f}" for f in out.failures]
        text = report.section(out.rows, command=command.strip(), runs=opts.runs,
                              seconds=seconds, notes=notes)
        report.write_section(results, text)
        print(f"wrote {results}")
    return 1 if out.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
