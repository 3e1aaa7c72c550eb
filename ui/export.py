"""The export page's pieces: the choice, the area map, the export and its download.

The choice of layer, area, window and format; the area map; the export itself, with
progress, a download button, a summary and an audit line.

The export runs :func:`geo.export.export_layer` (the same code as ``gridmap export``) into a
temporary file, chunk by chunk, reporting progress to a Streamlit progress bar. The finished
file is offered for download and the temporary file removed. Personal fields never go out
from this page (``personal=False``, DESIGN §8).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from geo import clock
from geo import export as geo_export
from geo import hotspots as geo_hotspots
from geo.access import AccessDenied
from geo.store.access import log_audit
from ui import bulletin as ui_bulletin
from ui import data, downloads, maps, state, widgets
from ui.text import count, number, rate, t

#: Fill of the grids inside the export area.
INSIDE_COLOUR = "#1e88e5"
#: How the map draws grids outside the area (ui.maps / geo.maps draw them faint).
OUTSIDE_COLOUR = "#eceff1"
#: Days in the default window, ending today (Asia/Shanghai); hot spots take the days of
#: the one hot-spot definition (the hotspots page's).
DEFAULT_DAYS = 30
LAYER_DAYS = {"hotspots": geo_hotspots.DEFAULT.window_days,
              "scan_clusters": geo_hotspots.DEFAULT.window_days}
#: The finished export kept for download: session key.
_RESULT = "_export_result"


@dataclass(frozen=True)
class Choice:
    """What the user asked to export."""

    layer: str
    area: str | None
    fmt: str
    first: date | None = None
    last: date | None = None
    month: str | None = None
    level: str | None = None
    ready: bool = True
    personal: bool = False

    @property
    def window(self) -> str | None:
        """How the layer uses time: "reported", "month" or None."""
        return geo_export.LAYERS[self.layer].window


# --------------------------------------------------------------------------- controls


def _today() -> date:
    return clock.local_date(data.now())


def area_options(current: str | None) -> list[str | None]:
    """The whole city, then each county followed by its townships and their communities."""
    units = data.units()
    options: list[str | None] = [None]
    levels = units["level"]
    parents = units["parent_code"]
    for county in units.index[levels == "county"]:
        options.append(county)
        for township in units.index[(levels == "township") & (parents == county)]:
            options.append(township)
            options.extend(units.index[(levels == "community") & (parents == township)])
    if current is not None and current not in options:
        options.append(current)
    return options


def _area_label(code: str | None) -> str:
    if code is None:
        return t("export.area.all")
    units = data.units()
    level = units.at[code, "level"] if code in units.index else None
    indent = {"township": "　", "community": "　　"}.get(level, "")
    return f"{indent}{data.area_name(code)} · {code}"


def controls() -> Choice:
    """Draw the layer, area, window and format widgets; ``ready`` is False while incomplete."""
    layers = [info.key for info in geo_export.export_layers()]
    layer = st.selectbox(t("export.layer"), layers, format_func=lambda k: t(f"export.layer.{k}"),
                         key="export_layer")
    st.caption(t(f"export.layer_help.{layer}"))

    sidebar_area = state.area()
    options = area_options(sidebar_area)
    area = st.selectbox(t("export.area"), options, index=options.index(sidebar_area),
                        format_func={c: _area_label(c) for c in options}.get,
                        key=f"export_area_{sidebar_area}",
                        help=t("export.area_note"))

    window = geo_export.LAYERS[layer].window
    first = last = None
    month = level = None
    ready = True
    if window == "reported":
        today = _today()
        days_back = LAYER_DAYS.get(layer, DEFAULT_DAYS)
        if layer == "hotspots":
            definition = geo_hotspots.DEFAULT
            st.caption(t("export.hotspots.definition", days=definition.window_days,
                         distance=f"{definition.distance_m or 0:,.0f}"))
        # A layer with its own default keeps its own widget, so switching layers resets it.
        picked = st.date_input(t("export.window"),
                               value=(today - timedelta(days=days_back - 1), today),
                               max_value=today, format="YYYY-MM-DD",
                               key="export_days" if layer not in LAYER_DAYS
                               else f"export_days_{layer}")
        days = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
        if len(days) != 2 or days[0] is None or days[1] is None:
            st.info(t("export.window.incomplete"))
            ready = False
        else:
            first, last = days
    elif window == "month":
        months = ui_bulletin.months()
        if not months:
            st.info(t("export.month.none"))
            ready = False
        else:
            newest_first = months[::-1]
            default = ui_bulletin.default_month()
            month = st.selectbox(t("export.month"), newest_first,
                                 index=newest_first.index(default) if default in months else 0,
                                 format_func=ui_bulletin.month_label, key="export_month")
            level = st.selectbox(t("export.level"), [None, *ui_bulletin.LEVELS],
                                 format_func=lambda lv: t("export.level.all") if lv is None
                                 else t(f"level.{lv}"), key="export_level")
    else:
        st.caption(t("export.window.none"))

    fmts = list(geo_export.LAYERS[layer].formats)
    fmt = st.radio(t("export.format"), fmts, format_func=lambda f: t(f"export.format.{f}"),
                   key="export_format", horizontal=False)
    personal = False
    # Only an admin is offered personal fields, and must ask each time (DESIGN §8).
    if data.scope().personal == "all" and geo_export.LAYERS[layer].personal_fields:
        personal = st.checkbox(t("export.personal"), value=False, key="export_personal",
                               help=t("export.personal_help"))
    return Choice(layer=layer, area=area, fmt=fmt, first=first, last=last, month=month,
                  level=level, ready=ready, personal=bool(personal))


# --------------------------------------------------------------------------- map


def area_map(area: str | None) -> None:
    """The grids the export covers, coloured; the others faint; with its legend."""
    codes = data.area_codes(area)
    classes = maps.constant_classes(codes)
    values = pd.Series(t("export.map.inside"), index=codes)
    label = t("export.map.label")
    maps.grid_map(key="export_map", classes=classes, colours=[INSIDE_COLOUR], values=values,
                  label=label, area=area, height=560, stamp=f"{data.stamp()}|{area}")
    items = [(INSIDE_COLOUR, t("export.legend.inside", n=count(len(codes))))]
    if area is not None:
        items.append((OUTSIDE_COLOUR, t("export.legend.outside")))
    widgets.legend(items, title=label)


# --------------------------------------------------------------------------- export


def _window(choice: Choice):
    if choice.window == "reported":
        return geo_export.local_days_window(choice.first, choice.last)
    return None, None


def filename(choice: Choice) -> str:
    """The download's file name (:func:`geo.export.default_filename`)."""
    since, until = _window(choice)
    return geo_export.default_filename(choice.layer, choice.fmt, area=choice.area, since=since,
                                       until=until, month=choice.month)


def size_text(size: int) -> str:
    """A file size: 12.3 KB / 4.5 MB."""
    if size < 1024 * 1024:
        return t("export.size.kb", n=number(size / 1024))
    return t("export.size.mb", n=number(size / 1024 / 1024))


def export_bytes(choice: Choice, *, progress=None) -> dict:
    """Run the export into a temporary file, log it, and return the file and its summary.

    Raises what :func:`geo.export.export_layer` raises (ValueError, OSError); the audit
    line is written only for a finished export.
    """
    since, until = _window(choice)
    name = filename(choice)
    eng = data.engine()
    who = data.scope()
    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as tmp:
        path = Path(tmp) / name
        result = geo_export.export_layer(
            eng, layer=choice.layer, fmt=choice.fmt, path_or_buffer=path, area=choice.area,
            since=since, until=until, month=choice.month, level=choice.level,
            personal=choice.personal, progress=progress, now=data.now(), scope=who)
        body = path.read_bytes()
    log_audit(eng, actor=who.actor, action="export", area=result.area, rows=result.rows,
              detail={"layer": result.layer, "format": result.format,
                      "personal": choice.personal, "role": who.role,
                      "file": name, "since": result.since, "until": result.until,
                      "month": choice.month, "level": choice.level, "via": "web"})
    return {"choice": choice, "name": name, "body": body, "rows": result.rows,
            "seconds": result.seconds, "since": result.since, "until": result.until,
            "mime": geo_export.FORMATS[result.format].media_type,
            "repaired": result.repaired}


def run(choice: Choice) -> None:
    """The export button: runs the export with a progress bar and keeps the file."""
    if not st.button(t("export.run"), type="primary", icon=":material/download:",
                     key="export_run", disabled=not choice.ready):
        return
    st.session_state.pop(_RESULT, None)
    bar = st.progress(0.0, text=t("export.progress", pct=rate(0.0, digits=0)))

    def progress(fraction: float, _message: str) -> None:
        # geo.export's own messages are Chinese (the CLI's); the page shows its own words.
        bar.progress(fraction, text=t("export.progress", pct=rate(fraction, digits=0)))

    try:
        st.session_state[_RESULT] = export_bytes(choice, progress=progress)
    except (ValueError, TypeError, OSError, AccessDenied) as exc:
        bar.empty()
        st.error(t("export.failed", reason=str(exc)), icon=widgets.ICON_WARN)
        return
    bar.empty()


def offer(choice: Choice) -> None:
    """The finished export for the current choice: download button and summary."""
    done = st.session_state.get(_RESULT)
    if not done:
        return
    if done["choice"] != choice:
        # The choice changed since: the file no longer matches what is on screen.
        st.session_state.pop(_RESULT, None)
        return
    st.success(t("export.done", rows=count(done["rows"])), icon=widgets.ICON_OK)
    downloads.button(t("export.download", name=done["name"]), body=done["body"],
                     file_name=done["name"], mime=done["mime"], type="primary",
                     icon=":material/file_download:", key="export_download")
    if done["rows"] == 0:
        st.warning(t("export.summary.empty"))
    if done.get("repaired"):
        st.warning(t("export.repaired", n=count(done["repaired"])), icon=widgets.ICON_WARN)
    st.dataframe(summary(done), hide_index=True, width="stretch")
    st.caption(" · ".join([t("export.summary.seconds", s=number(done["seconds"])),
                           t("export.summary.personal" if choice.personal
                             else "export.summary.no_personal"),
                           t("export.summary.audit")]))
    st.caption(t("export.qgis_hint"))


def summary(done: dict) -> pd.DataFrame:
    """The export's summary as a two-column table (what, value)."""
    choice: Choice = done["choice"]
    if choice.window == "month":
        window = ui_bulletin.month_label(choice.month) if choice.month else "—"
    elif choice.window == "reported":
        window = t("export.window.range", first=f"{choice.first:%Y-%m-%d}",
                   last=f"{choice.last:%Y-%m-%d}")
    else:
        window = t("export.window.none")
    rows = [
        (t("export.summary.layer"), t(f"export.layer.{choice.layer}")),
        (t("export.summary.area"), data.area_name(choice.area)),
        (t("export.summary.window"), window),
        (t("export.summary.format"), geo_export.FORMATS[choice.fmt].name),
        (t("export.summary.rows"), count(done["rows"])),
        (t("export.summary.size"), size_text(len(done["body"]))),
    ]
    return pd.DataFrame(rows, columns=[t("export.summary.item"), t("export.summary.value")])
