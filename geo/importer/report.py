"""What an import reports: one :class:`Problem` per line, the file-level error, the totals.

Every other module of :mod:`geo.importer` records into these types, so they sit below all
of them and import none but :mod:`~geo.importer.reasons`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from geo.importer.reasons import Reason, render

#: What can be imported.
KINDS = ("grids", "requests", "stations", "activities", "units")

#: ``progress(fraction, message)``: how :func:`geo.importer.import_file` reports progress.
Progress = Callable[[float, str], None]

#: How the summary names each format found by :func:`geo.importer.read_table`.
FORMAT_NAMES = {"csv": "CSV", "xlsx": "Excel", "geojson": "GeoJSON", "gpkg": "GeoPackage",
                "shpzip": "zipped Shapefile", "shp": "Shapefile"}


def check_kind(kind: str) -> None:
    """Raise ValueError unless ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")


@dataclass
class Problem:
    """One line of the validation report.

    Attributes
    ----------
    row : int or None
        The spreadsheet line (CSV/Excel: the header is line 1, the first data row 2) or the
        feature number; None for a problem with the whole file or a whole column.
    field : str or None
        The column as named in the file (or the store column when the file has none).
    value : str or None
        The offending raw value, cut to about 60 characters.
    reason : str
        What is wrong, in English. A :class:`~geo.importer.reasons.Reason` gives its code
        and params to the fields below.
    severity : str
        ``"error"``: the row is rejected. ``"warning"``: the row is kept.
    code : str or None
        The reason's code in :data:`~geo.importer.reasons.REASONS` (None: English only).
    params : dict
        What fills the code's text.

    """

    row: int | None
    field: str | None
    value: str | None
    reason: str
    severity: str = "error"
    code: str | None = None
    # dataclasses.field: ``field`` is an attribute of this class.
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.reason, Reason):
            self.code, self.params = self.reason.code, self.reason.params
            self.reason = str(self.reason)

    def text(self, lang: str = "en") -> str:
        """Return the reason in ``lang`` ("zh" or "en"); English when it has no code."""
        return render(self.code, self.params, lang=lang, fallback=self.reason)

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.field:
            where += f", field {self.field}"
        if self.value is not None:
            where += f", value {self.value!r}"
        return f"{self.severity}: {where}: {self.reason}"

    def line(self, lang: str = "en") -> str:
        """Return the problem as one line in ``lang`` (the CLI's ``--lang``)."""
        if lang != "zh":
            return str(self)
        where = "文件" if self.row is None else f"第 {self.row} 行"
        if self.field:
            where += f"，字段 {self.field}"
        if self.value is not None:
            where += f"，值 {self.value!r}"
        severity = "错误" if self.severity == "error" else "警告"
        return f"{severity}：{where}：{self.text('zh')}"


class ImportFileError(Exception):
    """The whole file is rejected; carries a :class:`Problem` with ``row=None``."""

    def __init__(self, problem: Problem | str) -> None:
        if isinstance(problem, str):
            problem = Problem(None, None, None, problem)
        super().__init__(problem.reason)
        self.problem = problem


@dataclass
class ImportReport:
    """What an import read, kept, wrote and complained about.

    Every row read ends in one of four counts: **new** (``rows_new``: its key was not
    stored), **updated** (``rows_updated``: a stored request moved on, or a stored grid or
    station replaced), **unchanged** (``rows_unchanged``: stored and the same, or older than
    the stored state, ``rows_stale`` of them; an activity already stored) and **refused**
    (:attr:`rows_rejected`: a row problem, listed with row, field and reason). A dry run
    writes nothing and gives the counts a real run on the same stored data would;
    ``rows_inserted`` counts rows actually written as new (0 in a dry run).
    """

    kind: str
    path: str
    crs: str
    rows_read: int = 0
    rows_valid: int = 0
    rows_inserted: int = 0
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    rows_new: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_stale: int = 0
    format: str | None = None
    encoding: str | None = None
    file_error: Problem | None = None

    @property
    def rows_to_write(self) -> int:
        """Rows a real run writes (or wrote): new plus updated."""
        return self.rows_new + self.rows_updated

    @property
    def rows_rejected(self) -> int:
        """Rows refused: read but not valid, or an update the flow's rules refuse."""
        return self.rows_read - self.rows_valid

    @property
    def errors(self) -> list[Problem]:
        """The problems that rejected a row or the file."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that did not stop a row from being written."""
        return [p for p in self.problems if p.severity == "warning"]

    def ok(self) -> bool:
        """Return True unless the whole file was rejected (rows may still be rejected)."""
        return self.file_error is None

    def summary(self) -> str:
        """Return a few lines for the CLI or a status box."""
        name = Path(self.path).name
        if self.file_error is not None:
            reason = self.file_error.reason.removeprefix(f"{name}: ")
            return f"{name}: file rejected, nothing written: {reason}"
        stale = f" ({self.rows_stale:,} stale)" if self.rows_stale else ""
        tally = (f"{self.rows_new:,} new, {self.rows_updated:,} updated, "
                 f"{self.rows_unchanged:,} unchanged{stale}, {self.rows_rejected:,} refused")
        n_warn = len(self.warnings)
        line = (f"{name}: {self.rows_read:,} rows read: {tally}; "
                f"{n_warn:,} warning{'s' if n_warn != 1 else ''}")
        if self.dry_run:
            line += " (dry run: nothing written; a real import would write "\
                    f"{self.rows_to_write:,})"
        fmt = FORMAT_NAMES.get(self.format or "", self.format or "?")
        if self.encoding:
            fmt += f", {self.encoding}"
        lines = [line + ".", f"{fmt}; coordinates from {self.crs}; {self.seconds:.2f} s."]
        counts: dict[tuple[str, str], int] = {}
        for p in self.problems:
            if p.row is not None:
                counts[(p.severity, p.reason)] = counts.get((p.severity, p.reason), 0) + 1
        for (severity, reason), n in sorted(counts.items(), key=lambda kv: -kv[1])[:3]:
            short = reason if len(reason) <= 100 else reason[:99] + "…"
            lines.append(f"  {n:,} × {severity}: {short}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return the problems as a table: row, field, value, reason, severity."""
        frame = pd.DataFrame(
            [(p.row, p.field, p.value, p.reason, p.severity) for p in self.problems],
            columns=["row", "field", "value", "reason", "severity"],
        )
        frame["row"] = frame["row"].astype("Int64")
        return frame

