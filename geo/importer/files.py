"""Files the import hands back to the user: templates, refused rows, the problem report.

* :func:`template_file`: each kind's template (CSV with a UTF-8 BOM, or Excel), built from
  the column tables of :mod:`geo.importer.columns`: the Chinese headings, one example row
  and, in Excel, a second sheet listing every column with the names accepted for it.
* :func:`refused_rows`: the rows of an upload that were refused, as the user wrote them,
  plus a column saying why, to fix and import again (the importer ignores that column).
* :func:`problems_file`: the validation report as CSV.

Every text cell goes through :func:`geo.export.writers.defuse`: a cell from a file or a
reason that starts like a formula must not run when the user opens the file in Excel.
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.importer.columns import REASON_COLUMN, template, template_columns
from geo.importer.read import read_table
from geo.importer.report import ImportReport, check_kind

#: Formats of a template.
TEMPLATE_FORMATS = ("csv", "xlsx")

_GUIDE = {  # the Excel template's second sheet: heading -> (中文, English)
    "title": ("列名", "column"), "name": ("英文列名", "canonical name"),
    "aliases": ("也接受", "also accepted"), "required": ("必填", "required"),
    "example": ("示例", "example"),
}


def _defused(frame: pd.DataFrame) -> pd.DataFrame:
    # Imported here: geo.export pulls in the figures, which an import does not need.
    from geo.export.writers import defuse

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(defuse)
    return out


def _csv(frame: pd.DataFrame) -> bytes:
    # The BOM tells Excel the text is UTF-8 (without it Chinese opens as mojibake).
    return _defused(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xlsx(sheets: dict[str, pd.DataFrame]) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            _defused(frame).to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            for i, col in enumerate(frame.columns):
                width = max([len(str(col)), *(len(str(v)) for v in frame[col])]) + 4
                sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width = min(
                    width * 1.6, 60)
    return buf.getvalue()


def template_file(kind: str, fmt: str, *, lang: str = "zh") -> bytes:
    """Return ``kind``'s template as CSV (UTF-8 with BOM) or Excel bytes.

    Parameters
    ----------
    kind : str
        One of :data:`~geo.importer.report.KINDS`.
    fmt : str
        ``"csv"`` or ``"xlsx"``.
    lang : str
        Language of the Excel guide sheet's headings ("zh" or "en").

    """
    check_kind(kind)
    if fmt not in TEMPLATE_FORMATS:
        raise ValueError(f"fmt must be one of {TEMPLATE_FORMATS}; got {fmt!r}")
    frame = template(kind)
    if fmt == "csv":
        return _csv(frame)
    return _xlsx({kind: frame, "columns" if lang != "zh" else "列说明": guide(kind, lang=lang)})


def guide(kind: str, *, lang: str = "zh") -> pd.DataFrame:
    """Every column of ``kind``'s template: heading, canonical name, other names, required."""
    i = 0 if lang == "zh" else 1
    yes, no = ("是", "") if lang == "zh" else ("yes", "")
    return pd.DataFrame({
        _GUIDE["title"][i]: [c.title for c in template_columns(kind)],
        _GUIDE["name"][i]: [c.name for c in template_columns(kind)],
        _GUIDE["aliases"][i]: ["、".join(a for a in c.aliases if a != c.name)
                               for c in template_columns(kind)],
        _GUIDE["required"][i]: [yes if c.required else no for c in template_columns(kind)],
        _GUIDE["example"][i]: [c.example for c in template_columns(kind)],
    })


def refused_rows(path: str | Path, report: ImportReport, *, lang: str = "zh"
                 ) -> tuple[bytes, str] | None:
    """Return the refused rows of ``path`` with their reasons, and the file's extension.

    CSV comes back as CSV (UTF-8 with BOM) and Excel as Excel; a GeoJSON, GeoPackage or
    Shapefile comes back as GeoJSON. Row numbers and columns are the user's; the last
    column (:data:`~geo.importer.columns.REASON_COLUMN`) says why, in ``lang``. None when
    no row was refused or the file cannot be read.
    """
    reasons: dict[int, list[str]] = {}
    for p in report.errors:
        if p.row is not None:
            where = f"{p.field}: " if p.field else ""
            reasons.setdefault(p.row, []).append(where + p.text(lang))
    if not reasons:
        return None
    frame = read_table(path, kind=report.kind)
    refused = frame[frame.index.isin(list(reasons))]
    if refused.empty:
        return None
    column = REASON_COLUMN[0 if lang == "zh" else 1]
    why = ["；".join(reasons[int(r)]) if lang == "zh" else "; ".join(reasons[int(r)])
           for r in refused.index]
    fmt = frame.attrs.get("format")
    if isinstance(refused, gpd.GeoDataFrame) and fmt not in ("csv", "xlsx"):
        shapes = refused.copy()
        shapes[column] = why
        return shapes.to_json(drop_id=True, ensure_ascii=False).encode("utf-8"), "geojson"
    out = pd.DataFrame(refused).reset_index(drop=True)
    out[column] = why
    if fmt == "xlsx":
        return _xlsx({"refused": out}), "xlsx"
    return _csv(out), "csv"


def problems_file(report: ImportReport, *, lang: str = "en") -> bytes:
    """Return the validation report as CSV (UTF-8 with BOM), cells formula-escaped."""
    frame = report.to_frame()
    if lang == "zh":
        frame["reason"] = [p.text("zh") for p in report.problems]
    return _csv(frame)
