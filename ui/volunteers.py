"""Volunteer tasks in grid detail: the grid's tasks, and forms to publish, claim, record hours.

Every write goes through :mod:`geo.volunteers`, which checks role and scope again; the
forms are offered only to grid heads in their grids and to admins.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from geo import clock, volunteers
from geo.access import AccessDenied
from geo.actions import ActionRefused
from ui import data, widgets
from ui.text import count, literal, number, t, when

_FLASH = "_tasks_flash"


def _refusal(exc: Exception) -> str:
    from ui.text import catalogue

    key = f"tasks.refused.{getattr(exc, 'reason', '')}"
    return t(key) if key in catalogue() else literal(str(exc), limit=200)


def next_volunteer_day(today: date) -> date:
    """The next 9th of a month (Yiyang's volunteer day), today included."""
    if today.day <= 9:
        return today.replace(day=9)
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first.replace(day=9)


def _done(message: str) -> None:
    data.refresh()
    st.session_state[_FLASH] = message
    st.rerun()


def grid_tasks(code: str) -> None:
    """The grid's volunteer tasks and, for who may, the forms that change them."""
    who = data.scope()
    st.markdown(f"**{t('tasks.title')}**")
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash, icon=widgets.ICON_OK)
    tasks, claims = volunteers.grid_tasks(data.engine(), who, grid_code=code)
    if tasks.empty:
        st.caption(t("tasks.none"))
    else:
        st.dataframe(pd.DataFrame({
            t("tasks.col.date"): tasks["date"].astype(str),
            t("tasks.col.title"): tasks["title"],
            t("tasks.col.places"): [f"{count(c)}/{count(p)}"
                                    for c, p in zip(tasks["claims"], tasks["places"],
                                                    strict=True)],
            t("tasks.col.hours"): tasks["hours"].map(lambda h: number(h, digits=1)),
            t("tasks.col.status"): tasks["status"].map(lambda s: t(f"tasks.status.{s}")),
            t("tasks.col.volunteers"): [
                "、".join(claims.loc[claims["task_id"] == i, "volunteer"].astype(str))
                for i in tasks["id"]],
            t("tasks.col.points"): [
                number(claims.loc[claims["task_id"] == i, "points"].sum(min_count=1),
                       digits=1) for i in tasks["id"]],
            t("tasks.col.published"): tasks["published_at"].map(when),
        }), hide_index=True, width="stretch")
    if who.role not in volunteers.TASK_ROLES or data.outside_scope(code):
        return
    today = clock.local_date(data.now())
    publish, claim, hours = st.tabs([t("tasks.publish"), t("tasks.claim"), t("tasks.hours")])
    with publish, st.form(f"task_publish_{code}", clear_on_submit=True):
        title = st.text_input(t("tasks.col.title"), max_chars=128)
        day = st.date_input(t("tasks.col.date"), value=next_volunteer_day(today),
                            min_value=today)
        places = st.number_input(t("tasks.places"), min_value=1,
                                 max_value=volunteers.MAX_PLACES, value=10, step=1)
        planned = st.number_input(t("tasks.planned_hours"), min_value=0.5,
                                  max_value=volunteers.MAX_HOURS, value=2.0, step=0.5)
        if st.form_submit_button(t("tasks.publish.submit"), type="primary"):
            try:
                volunteers.publish_task(data.engine(), who, grid_code=code, title=title,
                                        day=day, places=int(places), hours=float(planned),
                                        now=data.now())
            except (AccessDenied, ActionRefused) as exc:
                st.error(_refusal(exc), icon=widgets.ICON_DENIED)
            else:
                _done(t("tasks.published", title=literal(title)))
    open_tasks = tasks[tasks["status"] == "open"] if len(tasks) else tasks
    labels = {int(r.id): f"{r.date} · {r.title}" for r in open_tasks.itertuples()}
    with claim:
        if not labels:
            st.caption(t("tasks.none_open"))
        else:
            with st.form(f"task_claim_{code}", clear_on_submit=True):
                chosen = st.selectbox(t("tasks.choose"), list(labels),
                                      format_func=lambda i: labels[i])
                name = st.text_input(t("tasks.volunteer"), help=t("tasks.volunteer.help"),
                                     max_chars=64)
                if st.form_submit_button(t("tasks.claim.submit")):
                    try:
                        volunteers.claim_task(data.engine(), who, task_id=chosen,
                                              volunteer=name or None, now=data.now())
                    except (AccessDenied, ActionRefused) as exc:
                        st.error(_refusal(exc), icon=widgets.ICON_DENIED)
                    else:
                        _done(t("tasks.claimed", name=literal(name or who.actor)))
    with hours:
        due = {i: label for i, label in labels.items()
               if open_tasks.set_index("id").loc[i, "date"] <= today}
        if not due:
            st.caption(t("tasks.none_due"))
            return
        chosen = st.selectbox(t("tasks.choose"), list(due), format_func=lambda i: due[i],
                              key=f"task_hours_pick_{code}")
        names = claims.loc[claims["task_id"] == chosen, "volunteer"].astype(str).tolist()
        planned = float(open_tasks.set_index("id").loc[chosen, "hours"])
        with st.form(f"task_hours_{code}_{chosen}"):
            served = {n: st.number_input(n, min_value=0.0, max_value=volunteers.MAX_HOURS,
                                         value=planned, step=0.5, key=f"h_{chosen}_{k}")
                      for k, n in enumerate(names)}
            st.caption(t("tasks.hours.help", per_hour=number(volunteers.POINTS_PER_HOUR,
                                                             digits=0)))
            if st.form_submit_button(t("tasks.hours.submit"), type="primary"):
                try:
                    volunteers.record_hours(data.engine(), who, task_id=chosen,
                                            hours=served, now=data.now())
                except (AccessDenied, ActionRefused) as exc:
                    st.error(_refusal(exc), icon=widgets.ICON_DENIED)
                else:
                    _done(t("tasks.recorded", n=count(len(names))))
