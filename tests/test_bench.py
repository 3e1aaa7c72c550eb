"""``python -m bench --quick`` runs end to end, so that the benchmark cannot rot.

It builds a 300-grid dataset, measures every row once (SQLite and PostgreSQL, AppTest,
headless Chromium), prints the table and writes its section to a temporary results file.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("map payload", "polygons sent at once", "point → grid assignment", "counts per grid",
        "Gi*", "warm rerun", "first page", "peak RSS", "RSS growth", "wall refresh payload")


@pytest.mark.browser
def test_quick_benchmark_runs_end_to_end(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nhand-written notes stay\n")
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--results", str(results)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for what in ROWS:
        lines = [ln for ln in out.splitlines() if what in ln]
        assert lines, f"no row {what!r} in:\n{out}"
        # Every row shows a positive figure in its GridMap column.
        assert any(re.search(r"\b[1-9][\d,]*(\.\d+)? ?(ms|s|KB|MB|MiB|points/s|polygons)\b", ln)
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
