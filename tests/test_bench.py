"""``python -m bench --quick`` runs end to end, so that the benchmark cannot rot.

It builds a 300-grid dataset, measures every row once (SQLite and PostgreSQL, AppTest,
headless Chromium), prints the table and writes its section to bench/_work/, leaving the
recorded figures in bench/RESULTS.md alone.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("map payload", "polygons sent at once", "point → grid assignment", "counts per grid",
        "Gi*", "warm rerun", "first page", "peak RSS", "RSS growth", "wall refresh payload",
        "update throughput by file")


def test_only_a_full_run_writes_results_md_by_default():
    from bench.__main__ import results_path

    recorded = ROOT / "bench" / "RESULTS.md"
    assert results_path(None, quick=False) == recorded
    assert results_path(None, quick=True) == ROOT / "bench" / "_work" / "RESULTS-quick.md"
    assert results_path(Path("x.md"), quick=True) == Path("x.md")


@pytest.mark.browser
def test_quick_benchmark_runs_end_to_end():
    recorded = ROOT / "bench" / "RESULTS.md"
    before = recorded.read_bytes()
    results = ROOT / "bench" / "_work" / "RESULTS-quick.md"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text("# Benchmark results\n\nhand-written notes stay\n")
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The tiny-scale table never replaces the recorded city and province figures.
    assert recorded.read_bytes() == before
    assert f"wrote {results}" in proc.stdout
    out = proc.stdout
    for what in ROWS:
        lines = [ln for ln in out.splitlines() if what in ln]
        assert lines, f"no row {what!r} in:\n{out}"
        # Every row shows a positive figure in its GridMap column.
        unit = r"(ms|s|KB|MB|MiB|points/s|rows/s|polygons)"
        assert any(re.search(r"\b[1-9][\d,]*(\.\d+)? ?" + unit + r"\b", ln)
                   or re.search(r"\b0\.\d*[1-9]", ln) for ln in lines), lines
    assert "postgresql" in out and "sqlite" in out
    text = results.read_text()
    assert "hand-written notes stay" in text
    assert text.count("<!-- bench:start -->") == 1 and "<!-- bench:end -->" in text
    section = text.split("<!-- bench:start -->")[1]
    assert "map payload" in section and "Machine:" in section
    # A second run replaces the section instead of adding one.
    from bench import report

    report.write_section(results, "<!-- bench:start -->\nnew\n<!-- bench:end -->")
    again = results.read_text()
    assert again.count("<!-- bench:start -->") == 1 and "\nnew\n" in again
    assert "hand-written notes stay" in again
