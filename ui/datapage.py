"""The data page's pieces: upload, dry run, validation report, import, audit log, map.

The data loaded, the audit log, and the map of grids missing residents sit beside the
import.

An uploaded file is written to a temporary directory under its own name (the importer
checks that the extension agrees with the content), checked with
:func:`geo.importer.import_file` ``dry_run=True`` and imported for real only on the button.
The dry run is kept in the session per file, kind and CRS, so reruns do not repeat it.
Problems are shown in a table (row, field, value, reason): st.dataframe shows the file's
values as text, never as markup.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from geo import accounts, importer
from geo.store.access import log_audit, read_audit
from geo.store.engine import table_counts as stored_table_counts
from ui import data, downloads, errors, maps, widgets
from ui import text as ui_text
from ui.text import catalogue, count, t, when

#: Kinds of file, in the order offered.
KINDS = importer.KINDS
#: The kind choices: "auto" (detected from the file) first, then every kind.
KIND_CHOICES = ("auto", *KINDS)
#: Coordinate systems offered ("auto": the file's declared CRS, else WGS84).
CRS_CHOICES = ("auto", "wgs84", "gcj02", "bd09", "cgcs2000", "epsg")
#: Extensions the uploader accepts.
FILE_TYPES = ["csv", "txt", "xlsx", "geojson", "json", "gpkg", "zip"]
#: Rows of the file shown in the preview.
PREVIEW_ROWS = 20
#: Grids with and without residents on the map.
HAS_COLOUR = "#90caf9"
MISSING_COLOUR = "#e53935"
_CHECKED = "_data_checked"
_IMPORTED = "_data_imported"
_DETECTED = "_data_detected"


@dataclass
class Checked:
    """A dry run of one upload: its preview (None if unreadable) and report."""

    key: tuple
    name: str
    preview: pd.DataFrame | None
    total: int
    report: importer.ImportReport
    refused: tuple[bytes, str] | None = None  # the refused rows with reasons, extension


# --------------------------------------------------------------------------- helpers


def safe_name(name: str) -> str:
    """The uploaded file's base name, without any directory part."""
    base = Path(str(name).replace("\\", "/")).name.strip() or "upload"
    return base


@contextmanager
def saved(name: str, body: bytes) -> Iterator[Path]:
    """Write the upload to a temporary file named like the original; remove it afterwards."""
    with tempfile.TemporaryDirectory(prefix="gridmap-import-") as tmp:
        path = Path(tmp) / safe_name(name)
        path.write_bytes(body)
        yield path


def crs_value(choice: str, epsg: str = "") -> str | None:
    """The importer's ``crs`` for a choice: None for auto, ``EPSG:n`` for a code."""
    if choice == "auto":
        return None
    if choice == "epsg":
        code = epsg.strip().upper().removeprefix("EPSG:").strip()
        return f"EPSG:{code}" if code else None
    return choice


def preview(path: Path, kind: str) -> pd.DataFrame | None:
    """The first rows of the file as read (geometry shown as its type).

    Only the first rows of a CSV are read (the check after reads the file a chunk at a
    time): a million-row upload is previewed in its first :data:`PREVIEW_ROWS`.
    """
    try:
        frame = next(importer.read_chunks(path, kind=kind, rows=PREVIEW_ROWS))
    except (importer.ImportFileError, StopIteration):
        return None
    head = frame.head(PREVIEW_ROWS)
    if isinstance(head, gpd.GeoDataFrame):
        geom = head.geometry.geom_type.fillna(t("msg.no_data_value"))
        head = pd.DataFrame(head.drop(columns=head.geometry.name))
        head[t("data.preview.geometry")] = geom.to_numpy()
    head = head.reset_index().rename(columns={"row": t("data.preview.row")})
    return head.astype(str).replace({"nan": ""})


def detect(name: str, body: bytes) -> str | None:
    """The kind the upload looks like (:func:`geo.importer.detect_kind`); None if unreadable."""
    with saved(name, body) as path:
        try:
            # The columns and the first rows' shapes decide: a chunk of a CSV is enough.
            return importer.detect_kind(next(importer.read_chunks(path, kind="requests",
                                                                  rows=1000)))
        except (importer.ImportFileError, StopIteration):
            return None


def detected(upload) -> str | None:
    """:func:`detect` for the current upload, once per file."""
    held = st.session_state.get(_DETECTED)
    if held is not None and held[0] == upload.file_id:
        return held[1]
    kind = detect(upload.name, upload.getvalue())
    st.session_state[_DETECTED] = (upload.file_id, kind)
    return kind


def kind_label(choice: str) -> str:
    """The kind selectbox's label of ``choice``."""
    return t(f"data.kind.{choice}")


def detected_note(found: str | None) -> None:
    """Say under the kind box what "detect" found."""
    st.caption(t("data.kind.detected", kind=t(f"data.kind.{found}")) if found
               else t("data.kind.undetected"))


def check(name: str, body: bytes, *, kind: str, crs: str | None) -> Checked:
    """Dry-run an upload: preview, validation report and refused rows, nothing written."""
    eng = data.engine()
    refused = None
    with saved(name, body) as path:
        shown = preview(path, kind)
        try:
            report = importer.import_file(eng, path, kind=kind, crs=crs, dry_run=True)
            if report.ok():
                refused = importer.refused_rows(path, report, lang=ui_text.lang())
        except Exception as exc:  # noqa: BLE001 the page reports, never a traceback
            report = _failed_report(path, kind, crs, exc)
    return Checked(key=(), name=safe_name(name), preview=shown, total=report.rows_read,
                   report=report,
                   refused=refused)


def _failed_report(path: Path, kind: str, crs: str | None, exc: Exception
                   ) -> importer.ImportReport:
    # Not the exception's text (a library's words, paths): an id the admin finds in the log.
    reason = importer.Reason("unexpected", id=errors.logged(exc, where="data"))
    problem = importer.Problem(None, None, None, reason)
    return importer.ImportReport(kind=kind, path=str(path), crs=crs or "wgs84",
                                 problems=[problem], file_error=problem)


def checked(upload, *, kind: str, crs: str | None) -> Checked:
    """The dry run of the current upload, computed once per file, kind, CRS and data."""
    key = (upload.file_id, upload.name, kind, crs, data.stamp(), ui_text.lang())
    held = st.session_state.get(_CHECKED)
    if held is not None and held.key == key:
        return held
    with st.spinner(t("data.checking", name=safe_name(upload.name))):
        result = check(upload.name, upload.getvalue(), kind=kind, crs=crs)
    result.key = key
    st.session_state[_CHECKED] = result
    return result


def run_import(name: str, body: bytes, *, kind: str, crs: str | None,
               actor: str = "web") -> importer.ImportReport:
    """Import an upload for real (one transaction), log it, and refresh the cached data."""
    eng = data.engine()
    if actor == "web":  # the signed-in admin, not a generic "web"
        actor = data.scope().actor
    with saved(name, body) as path:
        try:
            report = importer.import_file(eng, path, kind=kind, crs=crs)
        except Exception as exc:  # noqa: BLE001 the page reports, never a traceback
            report = _failed_report(path, kind, crs, exc)
    log_audit(eng, actor=actor, action="import", rows=report.rows_to_write,
              detail={"kind": kind, "file": safe_name(name), "ok": report.ok(),
                      "rows_read": report.rows_read, "new": report.rows_new,
                      "updated": report.rows_updated, "unchanged": report.rows_unchanged,
                      "refused": report.rows_rejected, "crs": report.crs, "via": "web"})
    if report.rows_to_write:
        # New grids, requests or stations: every page's figures must be read again now,
        # not when the data stamp's few seconds of caching run out. The site's own grids or
        # requests also end the demo: its documented passwords are refused from now on.
        data.refresh()
        data.password_problems.clear()
    return report


# --------------------------------------------------------------------------- drawing


def report_kpis(report: importer.ImportReport, *, done: bool = False) -> None:
    """Rows read, then the four counts every row ends in: new, updated, unchanged, refused.

    Before the import (a dry run) they say what the import would do against the data stored
    now; after it, what it did.
    """
    dry = "" if done else ".dry"
    stale = t("data.kpi.stale", n=count(report.rows_stale)) if report.rows_stale else None
    tiles = [
        (t("data.kpi.read"), count(report.rows_read), t("data.kpi.crs", crs=report.crs)),
        (t(f"data.kpi.new{dry}"), count(report.rows_new), None),
        (t(f"data.kpi.updated{dry}"), count(report.rows_updated), None),
        (t("data.kpi.unchanged"), count(report.rows_unchanged), stale),
        (t("data.kpi.refused"), count(report.rows_rejected), None),
        (t("data.kpi.warnings"), count(len(report.warnings)), None),
    ]
    widgets.kpi_tiles(tiles, alert=[False, False, False, False,
                                    report.rows_rejected > 0 and not done, False])


def reason_text(code: str | None, params: dict, fallback: str) -> str:
    """A reason in the UI language, through the catalogue's ``data.reason.<code>``."""
    key = f"data.reason.{code}"
    if code is None or key not in catalogue():
        return fallback
    values = {k: reason_text(v.code, v.params, str(v)) if isinstance(v, importer.Reason)
              else f"{v:,}" if isinstance(v, int) else v for k, v in params.items()}
    return t(key, **values)


def problems_frame(report: importer.ImportReport) -> pd.DataFrame:
    """Every problem as row, field, value, reason, severity, with catalogue column names."""
    frame = report.to_frame()
    severity = frame["severity"].map(lambda s: t(f"data.severity.{s}")
                                     if s in ("error", "warning") else str(s))
    return pd.DataFrame({
        t("data.col.row"): frame["row"].map(lambda r: "" if pd.isna(r) else str(int(r))),
        t("data.col.field"): frame["field"].fillna(""),
        t("data.col.value"): frame["value"].fillna(""),
        t("data.col.reason"): [reason_text(p.code, p.params, p.reason)
                               for p in report.problems],
        t("data.col.severity"): severity,
    })


def problems(found: Checked) -> None:
    """The validation report's table, its CSV, and the refused rows to fix."""
    report = found.report
    if not report.problems:
        st.success(t("data.problems.none"), icon=widgets.ICON_OK)
        return
    st.markdown(f"**{t('data.problems', n=count(len(report.problems)))}**")
    st.dataframe(problems_frame(report), hide_index=True, width="stretch",
                 height=min(420, 38 + 35 * len(report.problems)),
                 column_config={t("data.col.row"): st.column_config.TextColumn(width="small"),
                                t("data.col.reason"): st.column_config.TextColumn(
                                    width="large")})
    st.caption(t("data.problems.note"))
    stem = Path(found.name).stem
    # One above the other: side by side, the longer label is cut at 1440 px.
    refused_col, report_col = st.container(), st.container()
    if found.refused is not None:
        body, ext = found.refused
        with refused_col:
            downloads.button(
                t("data.refused.download", n=count(report.rows_rejected)), body=body,
                help=t("data.refused.help"),
                file_name=f"{t('data.refused.file', stem=stem)}.{ext}",
                mime=_MIME.get(ext, "application/octet-stream"), key="data_refused",
                icon=":material/download:")
    with report_col:
        downloads.button(t("data.problems.download"),
                         body=importer.problems_file(report, lang=ui_text.lang()),
                         file_name=f"{stem}_problems.csv", mime="text/csv",
                         key="data_problems_csv", icon=":material/download:")


_MIME = {"csv": "text/csv",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "geojson": "application/geo+json"}


def templates(current: str = "requests") -> None:
    """Downloadable templates of every kind (CSV with a BOM, Excel), with their columns.

    The kind offered first is ``current``, the kind of the upload being checked.
    """
    with st.expander(t("data.templates"), icon=":material/description:"):
        st.caption(t("data.templates.intro"))
        kind = st.selectbox(t("data.templates.kind"), KINDS, index=KINDS.index(current),
                            format_func=lambda k: t(f"data.kind.{k}"), key="data_template_kind")
        st.dataframe(importer.files.guide(kind, lang=ui_text.lang()), hide_index=True,
                     width="stretch")
        name = t("data.templates.file", kind=t(f"data.kind.{kind}"))
        csv_col, xlsx_col = st.columns(2)
        with csv_col:
            downloads.button(t("data.templates.csv"), body=importer.template_file(kind, "csv"),
                             file_name=f"{name}.csv", mime=_MIME["csv"],
                             key="data_template_csv", icon=":material/download:")
        with xlsx_col:
            downloads.button(t("data.templates.xlsx"),
                             body=importer.template_file(kind, "xlsx", lang=ui_text.lang()),
                             file_name=f"{name}.xlsx", mime=_MIME["xlsx"],
                             key="data_template_xlsx", icon=":material/download:")


def table_counts() -> pd.DataFrame:
    """Rows per table, named for people."""
    counts = _table_counts(data.stamp())
    rows = [(t(f"data.table.{name}") if f"data.table.{name}" in _known() else name, count(n))
            for name, n in counts.items()]
    return pd.DataFrame(rows, columns=[t("data.col.table"), t("data.col.rows")])


def accounts_table() -> pd.DataFrame:
    """Accounts with role, areas, state, live sessions and last sign-in (never a hash)."""
    now = data.now()
    users = accounts.list_users(data.engine(), now=now)

    def state(row) -> str:
        return t(f"data.accounts.state.{accounts.account_state(row, now)}")

    return pd.DataFrame({
        t("data.accounts.col.username"): users["username"],
        t("data.accounts.col.name"): users["display_name"].fillna(""),
        t("data.accounts.col.role"): users["role"].map(lambda r: t(f"role.{r}")),
        t("data.accounts.col.areas"): users["areas"].map(
            lambda a: "、".join(data.area_name(c) for c in a.split(",")) if a else "—"),
        t("data.accounts.col.state"): [state(r) for r in users.itertuples()],
        t("data.accounts.col.sessions"): users["sessions"],
        t("data.accounts.col.last_login"): users["last_login_at"].map(when),
    })


def wall_tokens_table() -> pd.DataFrame:
    """Wall tokens: area, expiry, state and last use (never the token itself)."""
    tokens = accounts.list_wall_tokens(data.engine())
    now = data.now()

    def state(row) -> str:
        return t(f"data.tokens.state.{accounts.token_state(row, now)}")

    return pd.DataFrame({
        t("data.tokens.col.name"): tokens["name"],
        t("data.tokens.col.area"): tokens["area"].map(lambda c: f"{data.area_name(c)} {c}"),
        t("data.tokens.col.expires"): tokens["expires_at"].map(when),
        t("data.tokens.col.state"): [state(r) for r in tokens.itertuples()],
        t("data.tokens.col.last_used"): tokens["last_used_at"].map(when),
    })


def _known() -> set[str]:
    from ui.text import catalogue

    return set(catalogue())


@st.cache_data(ttl=10, show_spinner=False, max_entries=4)
def _table_counts(version: str) -> dict[str, int]:
    return stored_table_counts(data.engine())


AUDIT_ACTIONS = ("login", "login_failed", "denied", "export", "import", "wall_token_create",
                 "wall_token_revoke", "alliance.add", "alliance.disable", "request.claim",
                 "task.publish", "task.hours")


def audit(limit: int = 30, *, action: str | None = None) -> pd.DataFrame:
    """The newest audit lines (of one action, if given), newest first, catalogue columns."""
    lines = read_audit(data.engine(), limit=limit, action=action)
    if lines.empty:
        return lines

    def action(a: object) -> str:
        key = f"data.audit.action.{a}"
        return t(key) if key in _known() else str(a)

    return pd.DataFrame({
        t("data.audit.col.time"): lines["at"].map(when),
        t("data.audit.col.actor"): lines["actor"].fillna(""),
        t("data.audit.col.action"): lines["action"].map(action),
        t("data.audit.col.area"): lines["area"].fillna(""),
        t("data.audit.col.rows"): lines["rows"].map(count),
        t("data.audit.col.detail"): lines["detail"].fillna(""),
    })


def population_map() -> None:
    """Every grid: residents recorded or missing (a data admin's to-do list), with legend."""
    grids = data.hierarchy().grids
    population = pd.to_numeric(grids["population"], errors="coerce")
    has = population.fillna(0) > 0
    classes = pd.Series(np.where(has, 0, 1), index=grids.index)
    values = population.map(lambda v: count(v) if pd.notna(v) and v > 0
                            else t("data.map_value.missing")).astype(str)
    label = t("data.map_label")
    maps.grid_map(key="data_map", classes=classes, colours=[HAS_COLOUR, MISSING_COLOUR],
                  values=values, label=label, height=520, stamp=f"{data.stamp()}|population")
    widgets.legend([(HAS_COLOUR, t("data.legend.has", n=count(int(has.sum())))),
                    (MISSING_COLOUR, t("data.legend.missing", n=count(int((~has).sum()))))],
                   title=t("data.legend"))
    if (~has).any():
        st.caption(t("data.map_note"))


def import_button(upload, found: Checked, *, kind: str, crs: str | None) -> None:
    """The Import button under a clean-enough dry run; shows the import's outcome."""
    report = found.report
    done_key = (upload.file_id, kind, crs)
    held = st.session_state.get(_IMPORTED)
    if report.rows_to_write == 0 and not (held and held[0] == done_key):
        # Nothing new and nothing newer than the store (a re-run of a file already
        # imported, or an older one): no button that would write nothing.
        st.info(t("data.import.unchanged", n=count(report.rows_unchanged))
                if report.rows_valid else t("data.import.nothing"))
        return
    if report.rows_to_write and st.button(
            t("data.import", n=count(report.rows_to_write), new=count(report.rows_new),
              updated=count(report.rows_updated)),
            type="primary", icon=":material/upload:", key="data_import"):
        with st.spinner(t("data.importing")):
            outcome = run_import(upload.name, upload.getvalue(), kind=kind, crs=crs)
        st.session_state[_IMPORTED] = (done_key, outcome)
    held = st.session_state.get(_IMPORTED)
    if not held or held[0] != done_key:
        return
    outcome = held[1]
    if not outcome.ok():
        reason = outcome.file_error.reason if outcome.file_error else ""
        st.error(t("data.import.failed", reason=reason), icon=widgets.ICON_WARN)
        return
    st.success(t("data.imported", new=count(outcome.rows_new),
                 updated=count(outcome.rows_updated),
                 unchanged=count(outcome.rows_unchanged),
                 refused=count(outcome.rows_rejected)), icon=widgets.ICON_OK)
    report_kpis(outcome, done=True)


def file_error(found: Checked) -> bool:
    """Show a whole-file rejection; True when there was one."""
    problem = found.report.file_error
    if problem is None:
        return False
    reason = reason_text(problem.code, problem.params, problem.reason)
    st.error(t("data.file_rejected", reason=reason), icon=widgets.ICON_WARN)
    return True


def preview_table(found: Checked) -> None:
    """The first rows of the file as read."""
    if found.preview is None:
        return
    st.markdown(f"**{t('data.preview', n=count(len(found.preview)), total=count(found.total))}**")
    st.dataframe(found.preview, hide_index=True, width="stretch", height=260)
