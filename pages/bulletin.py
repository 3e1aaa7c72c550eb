"""月度通报 Monthly bulletin: the governance index per unit, ranked, with the change on last
month, a score map, the top and bottom five and the CSV of the ranking."""

import streamlit as st

from ui import bulletin, data, links, state
from ui.text import t

if not data.has_grids():
    links.empty_db_note()
    st.stop()

months = bulletin.months()
if not months:
    st.subheader(t("bulletin.title"))
    st.info(t("bulletin.no_months"))
    st.stop()

area = state.area()
pick_month, pick_level, _ = st.columns([1, 2, 2])
with pick_month:
    default = bulletin.default_month()
    month = st.selectbox(t("bulletin.month"), months[::-1], index=months[::-1].index(default),
                         format_func=bulletin.month_label, key="bulletin_month")
with pick_level:
    level = st.segmented_control(t("bulletin.level"), bulletin.LEVELS, default="township",
                                 format_func=bulletin.level_label,
                                 key="bulletin_level") or "township"

st.subheader(t("bulletin.heading", area=data.area_name(area), month=bulletin.month_label(month)))
st.caption(t("bulletin.intro"))
if bulletin.in_progress(month):
    st.warning(t("bulletin.in_progress", month=bulletin.month_label(month)))

issue = bulletin.bulletin(month)
everyone = issue.rankings[level]  # the units in the session's scope, city-wide ranks
shown = bulletin.ranking(month, level, area)
bulletin.kpis(shown, ranked_total=issue.ranked.get(level, 0))
if area is not None:
    st.caption(t("bulletin.area_note", area=data.area_name(area)))

map_col, side_col = st.columns([3, 2], gap="medium")
with map_col:
    bulletin.score_map(everyone, level=level, area=area)
with side_col:
    top, bottom = bulletin.top_and_bottom(shown)
    if top.empty:
        st.info(t("bulletin.no_units"))
    elif len(shown) > 1:  # one unit: its own rank is in the tiles above
        st.markdown(f"**{t('bulletin.top')}**")
        st.dataframe(top, hide_index=True, width="stretch")
        st.markdown(f"**{t('bulletin.bottom')}**")
        st.dataframe(bottom, hide_index=True, width="stretch")
    bulletin.download(month, area)

st.markdown(f"**{t('bulletin.ranking', level=bulletin.level_label(level))}**")
st.dataframe(bulletin.table(shown), hide_index=True, width="stretch", height=420)
st.caption(t("bulletin.method.shrink", n=issue.min_sample))
bulletin.method(issue.weights)
bulletin.claims(month, level, area)
