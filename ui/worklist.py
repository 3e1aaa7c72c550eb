"""The worklist and the actions on a request: cards, action forms, history and photos.

The worklist page (pages/worklist.py) lists the session's open requests by deadline as
cards that fit a 390 px phone; grid detail (ui/detail.py) shows the same card, actions,
history and photos for the request chosen there. Every action goes through
:func:`geo.actions.act`, which checks role, scope and the state the user saw; the buttons
offered here (:func:`geo.actions.allowed_actions`) are a convenience, not the check.

Residents' text (descriptions, addresses, notes, media URLs) is untrusted: it reaches the
page escaped inside HTML built here, or as plain widget text.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from geo import actions as geo_actions
from geo import deadlines, heat
from geo import worklist as geo_worklist
from geo.access import AccessDenied
from geo.deadlines import DeadlinePolicy
from geo.photos import MAX_BYTES, PhotoError, clean_photo, data_uri
from geo.store.area import AreaFilter
from geo.workdays import WorkCalendar
from ui import data, links, state, widgets
from ui.text import literal, short_when, t, when
from ui.text import vocab as vocab_text

#: Cards shown at first, and added by each "more".
PAGE_SIZE = 20
#: Characters of a description shown on a card.
TEXT_LIMIT = 240
#: File types the photo field offers (the upload is still decoded and checked in geo/).
PHOTO_TYPES = sorted({"jpg", "jpeg", "png", "webp"})
#: The primary button of each state (the usual next step).
PRIMARY = frozenset({"accept", "resolve", "close", "urge"})
_MESSAGE = "_work_message"
#: A phone number in clear (digits, an optional + and dashes): only then a tel: link.
_PHONE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")
_SHOWN = "_work_shown"
LEVEL_CLASS = {-1: "gm-lv-none", 0: "gm-lv0", 1: "gm-lv1", 2: "gm-lv2", 3: "gm-lv3"}

#: Phone first: cards that wrap instead of overflowing, touch targets of at least 44 px,
#: buttons side by side where they fit. Streamlit stacks columns below 640 px by itself.
CSS = """
<style>
.gm-card { border-left:.35rem solid #90a4ae; background:#f7f8fb; border-radius:.5rem;
  padding:.55rem .75rem; margin:.1rem 0 .3rem; overflow-wrap:anywhere; word-break:break-word; }
.gm-card.gm-lv1 { border-left-color:#f08c00; }
.gm-card.gm-lv2 { border-left-color:#c62828; }
.gm-card.gm-lv3 { border-left-color:#7b1010; background:#fff4f4; }
.gm-card.gm-lv-done { border-left-color:#2f9e44; }
.gm-card-top { display:flex; flex-wrap:wrap; gap:.25rem .5rem; align-items:center;
  font-weight:600; }
.gm-badge { display:inline-block; border-radius:1rem; padding:.05rem .55rem; font-size:.85rem;
  color:#fff; background:#607d8b; white-space:nowrap; }
.gm-badge.gm-lv0 { background:#2f6f9f; }
.gm-badge.gm-lv1 { background:#e67700; }
.gm-badge.gm-lv2 { background:#c62828; }
.gm-badge.gm-lv3 { background:#7b1010; }
.gm-badge.gm-lv-done { background:#2f9e44; }
.gm-tag { display:inline-block; border:1px solid #c62828; color:#c62828; border-radius:.3rem;
  padding:0 .35rem; font-size:.8rem; font-weight:600; }
.gm-card-place { color:#37474f; margin-top:.2rem; }
.gm-card-text { margin:.25rem 0; }
.gm-card-meta { font-size:.85rem; color:#607d8b; }
.gm-history { list-style:none; padding:0; margin:.2rem 0 .6rem; overflow-wrap:anywhere; }
.gm-history li { padding:.35rem 0; border-bottom:1px solid rgba(0,0,0,.08); }
.gm-history .gm-when { color:#607d8b; font-size:.85rem; font-variant-numeric:tabular-nums; }
.gm-history .gm-kind { font-weight:600; margin:0 .35rem; }
.gm-history .gm-urge { color:#c62828; }
.gm-history .gm-note { display:block; margin-top:.1rem; }
[data-testid="stFormSubmitButton"] button, [data-testid="stPageLink"] a,
[data-testid="stExpander"] summary, [data-testid="stBaseButton-secondary"],
[data-testid="stBaseButton-primary"] { min-height:44px; }
[data-testid="stFileUploaderDropzone"] button { min-height:44px; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-left:.75rem; padding-right:.75rem;
    padding-top:3.2rem; }
  .gm-card { padding:.5rem .6rem; }
  [data-testid="stFileUploaderDropzoneInstructions"] { display:none; }
  [data-testid="stForm"] [data-testid="InputInstructions"] { display:none; }
}
</style>
"""


# --------------------------------------------------------------------------- configuration


def policy() -> DeadlinePolicy:
    """The site's deadline policy (``GRIDMAP_DEADLINES``) that judges due soon / overdue."""
    return deadlines.policy_and_calendar()[0]


def calendar() -> WorkCalendar | None:
    """The site's working calendar (``GRIDMAP_HOLIDAYS``): a resume moves deadlines by it."""
    return deadlines.policy_and_calendar()[1]


# --------------------------------------------------------------------------- reading


def requested_id() -> int | None:
    """The request named by ``?request=``, or None (a bad value is reported)."""
    raw = st.query_params.get("request")
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdigit() or len(raw.strip()) > 18:
        st.warning(t("msg.bad_param", name="request", value=literal(raw), reason="id"),
                   icon=widgets.ICON_WARN)
        return None
    return int(raw.strip())


def rows(area: str | None = None, *, grid: str | None = None) -> pd.DataFrame:
    """The session's work items (not cached: an action must see the stored state)."""
    who = data.scope()
    if grid is not None:
        where: AreaFilter | None = AreaFilter(grid_code=grid)
    elif area is not None:
        where = heat.area_filter(data.engine(), area, scope=who)
    else:
        where = None
    return geo_worklist.worklist(data.engine(), who, now=data.now(), policy=policy(),
                                 area=where)


def _grid_names() -> pd.Series:
    return data.hierarchy().grids["name"]


# --------------------------------------------------------------------------- the page


def page_style() -> None:
    """The worklist's styles, and the photo uploader's text in the page's language."""
    st.markdown(CSS, unsafe_allow_html=True)
    widgets.uploader_text(t("work.photo"), types=PHOTO_TYPES,
                          max_mb=MAX_BYTES // (1024 * 1024))


def page() -> None:
    """The worklist page: filters, cards with actions, more on demand."""
    page_style()
    st.subheader(t("work.title"))
    _message()
    focus = requested_id()
    if focus is not None:
        _focus(focus)
        return
    area = state.area()
    items = rows(area)
    st.caption(t("work.caption", area=data.area_name(area), time=when(data.now())))
    if items.empty:
        st.info(t("work.none"), icon=":material/task_alt:")
        return
    items = _filtered(items)
    shown = int(st.session_state.get(_SHOWN, PAGE_SIZE))
    for _, row in items.head(shown).iterrows():
        card(row)
        actions(row)
    if len(items) > shown:
        st.caption(t("work.shown", n=shown, total=f"{len(items):,}"))
        if st.button(t("work.more", n=min(PAGE_SIZE, len(items) - shown)), key="work_more",
                     use_container_width=True):
            st.session_state[_SHOWN] = shown + PAGE_SIZE
            st.rerun()


def _filtered(items: pd.DataFrame) -> pd.DataFrame:
    done = items["status"] == "resolved"
    groups = {"all": pd.Series(True, index=items.index), "late": items["level"] >= 2,
              "soon": items["level"] == 1, "close": done}
    labels = {k: t(f"work.filter.{k}", n=f"{int(v.sum()):,}") for k, v in groups.items()}
    choice = st.segmented_control(t("work.filter"), list(groups), default="all",
                                  format_func=labels.get, key="work_filter",
                                  label_visibility="collapsed") or "all"
    return items[groups[choice]]


def _focus(request_id: int) -> None:
    """One request named in the URL: refused outside the scope, like any read."""
    who = data.scope()
    try:
        row = geo_worklist.work_item(data.engine(), who, request_id, now=data.now(),
                                     policy=policy())
    except AccessDenied:
        st.error(t("work.denied"), icon=widgets.ICON_DENIED)
        return
    if row is None:
        st.info(t("work.gone", ref=request_id))
        return
    card(row)
    actions(row, expanded=True)


# --------------------------------------------------------------------------- a card


def _deadline(row: pd.Series) -> str:
    left = row.get("left_h")
    if left is None or pd.isna(left):
        return ""
    span = _span(abs(float(left)))
    return t("work.late_by", time=span) if left < 0 else t("work.due_in", time=span)


def _span(hours: float) -> str:
    return t("time.days", n=int(hours // 24)) if hours >= 48 else t("time.hours",
                                                                    n=int(hours))


def _age(row: pd.Series) -> str:
    return t("work.age", time=_span(max(float(row.get("age_h") or 0.0), 0.0)))


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def card(row: pd.Series, *, link: bool = True) -> None:
    """One request as a card: level, category, status, place, description, age; escaped."""
    resolved = row["status"] == "resolved"
    level = int(row["level"])
    cls = "gm-lv-done" if resolved else LEVEL_CLASS.get(level, "gm-lv-none")
    deadline = "" if resolved else _deadline(row)
    if resolved:
        badge = t("work.level.resolved")
    elif level in (0, 2) and deadline:  # "剩 23 小时" / "超期 5 小时" say it already
        badge, deadline = deadline, ""
    elif level == 3 and deadline:
        badge, deadline = t("work.long_late", time=_span(-float(row["left_h"]))), ""
    else:
        badge = t(f"work.level.{level}")
    tags = []
    if row.get("supervised_at") is not None and not pd.isna(row.get("supervised_at")):
        tags.append(t("work.supervised"))
    if row.get("suspended_at") is not None and not pd.isna(row.get("suspended_at")):
        tags.append(t("work.suspended"))
    grid = _text(row.get("grid_code"))
    place = " · ".join(x for x in (str(_grid_names().get(grid, grid)) if grid else "",
                                   _text(row.get("address")) or t("work.no_place")) if x)
    description = _text(row.get("description"))
    if len(description) > TEXT_LIMIT:
        description = description[: TEXT_LIMIT - 1] + "…"
    meta = [f"#{int(row['id'])}", t("detail.col.reported") + " " + short_when(row["reported_at"]),
            _age(row)]
    assignee = _text(row.get("assignee"))
    if assignee:
        meta.append(t("work.assignee", name=assignee))
    reporter = _reporter(row)
    top = (f'<span class="gm-badge {cls}">{html.escape(badge)}'
           f'{html.escape(" · " + deadline) if deadline else ""}</span>'
           f'<span>{html.escape(vocab_text("category", row["category"]))}</span>'
           f'<span>{html.escape(vocab_text("severity", row["severity"]))}</span>'
           f'<span>{html.escape(vocab_text("status", row["status"]))}</span>'
           + "".join(f'<span class="gm-tag">{html.escape(x)}</span>' for x in tags))
    st.markdown(
        f'<div class="gm-card {cls}"><div class="gm-card-top">{top}</div>'
        f'<div class="gm-card-place">{html.escape(place)}</div>'
        f'<div class="gm-card-text">{html.escape(description)}</div>'
        f'<div class="gm-card-meta">{html.escape(" · ".join(meta))}</div>{reporter}</div>',
        unsafe_allow_html=True)
    if link and grid:
        links.page_link("grid", label=t("work.map"), icon=":material/map:",
                        query_params={"grid": grid, "request": str(int(row["id"]))})


def _reporter(row: pd.Series) -> str:
    """The reporter's name and phone as HTML (escaped), or "" for roles without contacts.

    A phone in clear is a tel: link, so a grid head on the street calls with one tap.
    """
    name, phone = _text(row.get("reporter_name")), _text(row.get("reporter_phone"))
    if not name and not phone:
        return ""
    shown = html.escape(phone)
    if _PHONE.match(phone):
        shown = f'<a href="tel:{phone}">{shown}</a>'
    parts = " · ".join(x for x in (html.escape(name), shown) if x)
    line = html.escape(t("work.reporter", who="\x00")).replace("\x00", parts)
    return f'<div class="gm-card-meta">{line}</div>'


# --------------------------------------------------------------------------- actions


def _seen(row: pd.Series) -> tuple[str, datetime | None]:
    value = row.get("updated_at")
    at = None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()
    return str(row["status"]), at


def _key(row: pd.Series) -> str:
    # The state in the key: after a change the form's widgets start empty again.
    _status, at = _seen(row)
    return f"wk{int(row['id'])}_{at:%Y%m%d%H%M%S%f}" if at else f"wk{int(row['id'])}_0"


def actions(row: pd.Series, *, expanded: bool = False) -> None:
    """The actions the session may take on ``row``, in an expander under its card."""
    key = _key(row)
    allowed = geo_actions.allowed_actions(data.scope(), row.to_dict())
    opened = expanded or _message_for(key) is not None
    with st.expander(f"{t('work.act')} #{int(row['id'])}", expanded=opened,
                     icon=":material/edit_note:"):
        _message(key)
        if not allowed:
            st.caption(t("work.act.none"))
            return
        status, at = _seen(row)
        with st.form(f"{key}_form", border=False):
            if any(geo_actions.ACTIONS[a].needs_note for a in allowed):
                st.text_area(t("work.note"), key=f"{key}_note", height=80,
                             max_chars=geo_actions.MAX_NOTE, help=t("work.note.help"))
            if "dispatch" in allowed:
                st.text_input(t("work.assignee_field"), key=f"{key}_assignee", max_chars=64)
            if "resolve" in allowed:
                st.file_uploader(t("work.photo"), type=PHOTO_TYPES, key=f"{key}_photo",
                                 max_upload_size=MAX_BYTES // (1024 * 1024))
            with st.container(horizontal=True, gap="small"):
                for action in allowed:
                    st.form_submit_button(
                        t(f"work.action.{action}"), key=f"{key}_act_{action}",
                        type="primary" if action in PRIMARY else "secondary",
                        on_click=_submit, args=(int(row["id"]), action, status, at, key))


def _submit(request_id: int, action: str, seen_status: str, seen_at: datetime | None,
            key: str) -> None:
    """Take an action (a button's callback, run before the page reruns)."""
    values = st.session_state
    name = t(f"work.action.{action}")
    try:
        photo = None
        upload = values.get(f"{key}_photo")
        if action == "resolve" and upload is not None:
            photo = clean_photo(upload.getvalue())
        geo_actions.act(data.engine(), data.scope(), request_id=request_id, action=action,
                        seen_status=seen_status, seen_updated_at=seen_at,
                        note=values.get(f"{key}_note"), assignee=values.get(f"{key}_assignee"),
                        photo=photo, calendar=calendar(), now=data.now())
    except (geo_actions.ActionRefused, AccessDenied, PhotoError) as exc:
        reason = getattr(exc, "reason", "refused")
        text = f"work.reason.{reason}"
        why = t(text) if _known(text) else t("work.reason.refused")
        # A stale or unknown request: its new state shows on the rerun, under a new key.
        keep = key if reason not in ("stale", "unknown") else None
        values[_MESSAGE] = ("error", t("work.refused", action=name, reason=why), keep)
        return
    data.refresh()  # the wall and the other pages see the change at their next read
    values[_MESSAGE] = ("success", t("work.done", action=name, ref=f"#{request_id}"), None)


def _known(key: str) -> bool:
    from ui.text import catalogue

    return key in catalogue()


def _message_for(key: str | None) -> tuple[str, str, str | None] | None:
    found = st.session_state.get(_MESSAGE)
    if found is None or found[2] != key:
        return None
    return found


def _message(key: str | None = None) -> None:
    """Show (once) the outcome of the last action: in its card, or at the top."""
    found = _message_for(key)
    if found is None:
        return
    kind, text, _ = st.session_state.pop(_MESSAGE)
    if kind == "success":
        st.success(text, icon=widgets.ICON_OK)
        st.toast(text, icon=widgets.ICON_OK)
    else:
        st.error(text, icon=widgets.ICON_DENIED)


# --------------------------------------------------------------------------- history, photos


_KIND_KEYS = {"status": "work.kind.status", "escalation": "work.kind.escalation"}


def history(request_id: int) -> None:
    """The request's events, oldest first: when, who, what, from → to, note (escaped)."""
    st.markdown(f"**{html.escape(t('work.history'))}**")
    events = geo_worklist.history(data.engine(), data.scope(), request_id)
    if events.empty:
        st.caption(t("work.history.none"))
        return
    items = []
    for e in events.itertuples(index=False):
        kind = str(e.kind or "status")
        label = t(_KIND_KEYS[kind]) if kind in _KIND_KEYS else (
            t(f"work.action.{kind}") if _known(f"work.action.{kind}") else kind)
        change = ""
        if _text(e.from_status) and _text(e.to_status) and e.from_status != e.to_status:
            change = t("work.history.change", from_=vocab_text("status", e.from_status),
                       to=vocab_text("status", e.to_status))
        elif _text(e.to_status):
            change = vocab_text("status", e.to_status)
        urge = " gm-urge" if kind == "urge" else ""
        note = _text(e.note)
        items.append(
            f'<li><span class="gm-when">{html.escape(when(e.at))}</span>'
            f'<span class="gm-kind{urge}">{html.escape(label)}</span>'
            f'{html.escape(change)} · {html.escape(_text(e.actor))}'
            + (f'<span class="gm-note">{html.escape(note)}</span>' if note else "")
            + "</li>")
    st.markdown(f'<ul class="gm-history">{"".join(items)}</ul>', unsafe_allow_html=True)


def photos(request_id: int, media_url: Any = None) -> None:
    """The request's resolution photos (read through the scope check) and its media URL."""
    who = data.scope()
    stored = geo_worklist.photos(data.engine(), who, request_id)
    url = geo_worklist.safe_media_url(media_url)
    if stored.empty and url is None:
        return
    st.markdown(f"**{html.escape(t('work.photos'))}**")
    for p in stored.itertuples(index=False):
        found = geo_worklist.photo_for(data.engine(), who, int(p.id))
        if found is not None:
            # Inline, not st.image: its /media/ URL would answer anyone who had it.
            # Natural size, at most the column's width (never blown up past the pixels).
            uri = data_uri(found.data, found.content_type)
            st.html(f'<figure class="gm-photo" style="margin:0 0 .5rem 0">'
                    f'<img src="{uri}" alt="" style="max-width:100%;height:auto">'
                    f'<figcaption style="font-size:.85em;opacity:.8">'
                    f'{html.escape(when(p.created_at))}</figcaption></figure>')
    if url is not None:
        # A link, not an <img>: the picture lives on another host, fetched only on a click.
        st.markdown(f'{html.escape(t("work.media"))}: <a href="{html.escape(url, quote=True)}" '
                    f'target="_blank" rel="noopener noreferrer nofollow">'
                    f"{html.escape(url)}</a>", unsafe_allow_html=True)


# --------------------------------------------------------------------------- grid detail


def grid_panel(code: str) -> None:
    """Grid detail's actions: choose one of the grid's requests; card, actions, history."""
    page_style()
    st.markdown(f"#### {html.escape(t('work.pick'))}")
    _message()
    wanted = requested_id()
    who = data.scope()
    if wanted is not None:
        try:
            grid = geo_worklist.check_request(data.engine(), who, wanted)
        except AccessDenied:
            st.error(t("work.denied"), icon=widgets.ICON_DENIED)
            wanted = None
        else:
            if grid != code:
                wanted = None
    items = rows(grid=code)
    if items.empty:
        st.caption(t("detail.open.none"))
        return
    ids = [int(i) for i in items["id"]]
    by_id = items.set_index(items["id"].astype(int))
    labels = {i: _option(by_id.loc[i]) for i in ids}
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox(t("work.pick"), ids, index=index, format_func=labels.get,
                          key=f"detail_pick_{code}", label_visibility="collapsed")
    row = by_id.loc[chosen].copy()
    row["id"] = chosen
    card(row, link=False)
    actions(row, expanded=True)
    history(chosen)
    photos(chosen, row.get("media_url"))


def _option(row: pd.Series) -> str:
    # Plain widget text: nothing here is rendered as markup.
    text = _text(row.get("description"))
    text = text if len(text) <= 24 else text[:23] + "…"
    due = "" if row["status"] == "resolved" else _deadline(row)
    parts = [f"#{int(row.name)}", vocab_text("category", row["category"]),
             vocab_text("status", row["status"]), due, text]
    return " · ".join(p for p in parts if p)
