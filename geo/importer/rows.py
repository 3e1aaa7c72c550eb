"""Row problems: the checks every validator runs, each recording one :class:`Problem` a row.

:class:`Rows` holds a frame renamed by :func:`geo.importer.columns.canonical`, the problems
found so far and the mask of rejected rows. Its checks (required values, numbers, codes
from :mod:`geo.vocab`, times, lengths, duplicates) are vectorised; Python loops only over
the rows reported, and at most :data:`MAX_PROBLEMS_PER_REASON` of them per field and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table

from geo import clock, vocab
from geo.importer.columns import Columns
from geo.importer.reasons import Reason
from geo.importer.report import Problem

#: Per field and reason, the report lists this many rows and summarises the rest in one line,
#: so a million rows with the same mistake give a readable report.
MAX_PROBLEMS_PER_REASON = 1000

_VALUE_WIDTH = 60


def object_values(s: pd.Series) -> np.ndarray:
    """Return the values as Python objects, None where missing (what drivers and shapely take)."""
    # pandas documents na_value as Any; pandas-stubs leave None out.
    return s.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]


def max_len(table: Table, col: str) -> int | None:
    """Return the length limit of a store text column (None when unlimited)."""
    return getattr(table.c[col].type, "length", None)


def _short(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


class Rows:
    """Problems for a frame's rows and the mask of rejected rows."""

    def __init__(self, cols: Columns, problems: list[Problem]) -> None:
        self.cols = cols
        self.n = len(cols.frame)
        self.numbers = cols.frame.index.to_numpy()
        if cols.frame.index.name != "row":  # a frame built by hand: number rows 1..n
            self.numbers = np.arange(1, self.n + 1)
        self.rejected = np.zeros(self.n, dtype=bool)
        self.problems = problems

    def label(self, col: str) -> str:
        """Return the file's name for store column ``col`` (``lon/lat`` names the pair)."""
        names = self.cols.names
        if col == "lon/lat":
            return f"{names.get('lon', 'lon')}/{names.get('lat', 'lat')}"
        return names.get(col, col)

    def number(self, i: int) -> int:
        """Return the row number (as the report cites it) of position ``i``."""
        return int(self.numbers[i])

    def flag(self, mask: Any, col: str, values: Any, reason: str | Sequence[str] | Any, *,
             severity: str = "error") -> None:
        """Record a problem for each row in ``mask``; errors reject the row.

        ``values`` and ``reason`` are per-row sequences (or a callable taking the row
        positions shown), or one value for all rows.
        """
        hits = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(hits) == 0:
            return
        if severity == "error":
            self.rejected[hits] = True
        shown = hits[:MAX_PROBLEMS_PER_REASON]
        vals = _take(values, shown)
        reasons = _take(reason, shown)
        label = self.label(col)
        self.problems.extend(
            Problem(self.number(i), label, _short(v), r if isinstance(r, Reason) else str(r),
                    severity)
            for i, v, r in zip(shown, vals, reasons, strict=True)
        )
        if len(hits) > len(shown):
            self.problems.append(Problem(None, label, None,
                                         more_rows(len(hits) - len(shown), reasons[0]),
                                         severity))

    def text(self, col: str, *, strip: bool = True) -> pd.Series | None:
        """Return the column as text without NULs, blanks as NaN; None if absent."""
        frame = self.cols.frame
        if col not in frame.columns:
            return None
        s = frame[col]
        # PostgreSQL rejects NUL in text, and no real value carries one.
        s = s.str.replace("\x00", "", regex=False)
        stripped = s.str.strip()
        return (stripped if strip else s).where(stripped.str.len() > 0)

    def code(self, col: str) -> pd.Series | None:
        """Return a code column; Excel's numeric cells ("430903003001001.0") lose ".0"."""
        s = self.text(col)
        return None if s is None else s.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)

    def required(self, col: str, s: pd.Series | None) -> np.ndarray:
        """Reject rows where a required value is blank; return the mask of present ones."""
        if s is None:
            self.flag(np.ones(self.n, bool), col, None, Reason("required"))
            return np.zeros(self.n, dtype=bool)
        present = s.notna().to_numpy()
        self.flag(~present, col, None, Reason("required"))
        return present

    def number_column(self, col: str, *, integer: bool = False, required: bool = False,
                      minimum: float | None = 0.0) -> np.ndarray:
        """Parse a numeric column; NaN where blank or bad."""
        s = self.text(col)
        if required:
            self.required(col, s)
        if s is None:
            return np.full(self.n, np.nan)
        present = s.notna().to_numpy()
        cleaned = s.str.replace(",", "", regex=False) if integer else s  # "1,200" people
        num = np.array(pd.to_numeric(cleaned, errors="coerce"), dtype=float)  # writable
        bad = present & ~np.isfinite(num)
        if integer:
            bad |= present & np.isfinite(num) & (num != np.floor(num))
        self.flag(bad, col, s, Reason("not_integer" if integer else "not_number"))
        if minimum is not None:
            low = present & ~bad & (num < minimum)
            self.flag(low, col, s, Reason("negative") if minimum == 0
                      else Reason("at_least", minimum=f"{minimum:g}"))
            bad |= low
        num[bad | ~present] = np.nan
        return num

    def vocab_column(self, col: str, table: dict, *, what: str, default: str | None,
                     required: bool = False) -> np.ndarray:
        """Map codes or Chinese names to codes; blanks get ``default``."""
        s = self.text(col)
        out = np.full(self.n, default, dtype=object)
        if s is None:
            if required:
                self.required(col, None)
            return out
        mapping = {u: vocab.lookup(table, u) for u in s.dropna().unique()}
        codes = s.map(mapping)
        present = s.notna().to_numpy()
        known = codes.notna().to_numpy()
        allowed = ", ".join(
            f"{code} ({v[0] if isinstance(v, tuple) else v})" for code, v in table.items())
        self.flag(present & ~known, col, s, Reason("vocab", what=what, allowed=allowed))
        if required:
            self.required(col, s)
        out[known] = codes.to_numpy(dtype=object)[known]
        return out

    def times(self, col: str, *, required: bool = False, local: bool = False
              ) -> pd.Series:
        """Parse date/times to naive UTC (or naive local time); NaT where blank or bad."""
        s = self.text(col)
        if required:
            self.required(col, s)
        if s is None:
            return pd.Series(pd.NaT, index=range(self.n), dtype="datetime64[us]")
        parsed = _parse_times(s.reset_index(drop=True), local=local)
        bad = s.notna().to_numpy() & parsed.isna().to_numpy()
        self.flag(bad, col, s, Reason("not_time"))
        return parsed

    def max_length(self, col: str, s: pd.Series | None, limit: int | None, *,
                   cut: bool = False) -> pd.Series | None:
        """Reject (or cut, with a warning) text longer than the store column allows."""
        if s is None or limit is None:
            return s
        long = (s.str.len() > limit).fillna(False).to_numpy(dtype=bool)
        if not long.any():
            return s
        if cut:
            self.flag(long, col, s, Reason("cut", limit=limit), severity="warning")
            return s.where(~long, s.str.slice(0, limit))
        self.flag(long, col, s, Reason("too_long", limit=limit))
        return s

    def duplicates(self, col: str, keys: pd.Series, *, among: np.ndarray,
                   what: str = "duplicate") -> None:
        """Reject every row ``among`` whose key repeats an earlier one (keep the first).

        ``what`` is the reason code (``duplicate`` or one saying what a derived key is).
        """
        keys = keys.reset_index(drop=True)
        candidates = keys.where(pd.Series(among)).dropna()
        dup = candidates.duplicated(keep="first")
        if not dup.any():
            return
        first = {k: cast(int, i) for i, k in candidates[~dup].items()}
        later = dup[dup].index.to_numpy()
        mask = np.zeros(self.n, dtype=bool)
        mask[later] = True
        reasons = np.full(self.n, None, dtype=object)
        reasons[later] = [Reason(what, row=self.number(first[keys[i]])) for i in later]
        self.flag(mask, col, keys, reasons)


def more_rows(n: int, reason: object) -> Reason | str:
    """Return the line that sums up ``n`` rows not listed with the same ``reason``."""
    if isinstance(reason, Reason):
        return Reason("more_rows", n=n, reason=reason)
    return f"{n:,} more rows not listed: {reason}"


def _take(values: Any, idx: np.ndarray) -> list[Any]:
    if values is None or isinstance(values, str):
        return [values] * len(idx)
    if callable(values):
        return list(values(idx))
    if isinstance(values, pd.Series):
        return values.iloc[idx].tolist()
    return np.asarray(values, dtype=object)[idx].tolist()


# A time followed by Z or an offset. " *" not "\s*": \s sends pandas to the slow Python regex.
_OFFSET = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)? *(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _parse_times(s: pd.Series, *, local: bool = False) -> pd.Series:
    """Parse text to naive UTC (``local=False``) or naive Asia/Shanghai time."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    present = s.notna().to_numpy()
    aware = s.str.contains(_OFFSET, regex=True, na=False).to_numpy(dtype=bool)
    for mask, has_offset in ((present & ~aware, False), (present & aware, True)):
        if not mask.any():
            continue
        sub = s[mask]
        parsed = pd.to_datetime(sub, format="ISO8601", errors="coerce", utc=has_offset)
        retry = parsed.isna()
        if retry.any():  # 2024年5月1日 8时30分, 2024.05.01 and friends: the slow path, few rows
            parsed[retry] = pd.to_datetime(_normalise_dates(sub[retry]), format="ISO8601",
                                           errors="coerce", utc=has_offset)
        if has_offset:
            zone = clock.SHANGHAI_NAME if local else "UTC"
            parsed = parsed.dt.tz_convert(zone).dt.tz_localize(None)
        elif not local:  # the zone's rules, not the fixed offset: as written on the wall clock
            parsed = (parsed.dt.tz_localize(clock.SHANGHAI_NAME, ambiguous="NaT",
                                            nonexistent="NaT")
                      .dt.tz_convert("UTC").dt.tz_localize(None))
        out[mask] = parsed.astype("datetime64[us]").to_numpy()
    return out


def _normalise_dates(s: pd.Series) -> pd.Series:
    s = s.str.replace(r"^(\d{4})\s*[年./]\s*(\d{1,2})\s*[月./]\s*(\d{1,2})\s*日?",
                      r"\1-\2-\3 ", regex=True)
    s = s.str.replace(r"(\d{1,2})\s*[时點点:]\s*(\d{1,2})\s*分?\s*(?:(\d{1,2})\s*秒)?",
                      lambda m: f"{m[1]}:{m[2]}" + (f":{m[3]}" if m[3] else ""), regex=True)
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


