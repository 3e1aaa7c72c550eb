"""数据管理 Data: import with a preview and a validation report; the data loaded, the audit
log, and a map of the grids that lack residents."""

import streamlit as st

from ui import alliance, data, datapage, widgets
from ui.text import t

st.subheader(t("data.title"))
st.caption(t("data.intro"))

left, right = st.columns([3, 2], gap="large")
with left:
    widgets.uploader_text(t("data.upload"), types=datapage.FILE_TYPES,
                          max_mb=int(st.get_option("server.maxUploadSize")))
    upload = st.file_uploader(t("data.upload"), type=datapage.FILE_TYPES,
                              help=t("data.upload_help"), key="data_upload")
    found_kind = datapage.detected(upload) if upload is not None else None
    kind_col, crs_col = st.columns(2)
    with kind_col:
        choice = st.selectbox(t("data.kind"), datapage.KIND_CHOICES,
                              format_func=datapage.kind_label, help=t("data.kind_help"),
                              key="data_kind")
        kind = (found_kind or "requests") if choice == "auto" else choice
        if choice == "auto" and upload is not None:
            datapage.detected_note(found_kind)
    with crs_col:
        crs_choice = st.selectbox(t("data.crs"), datapage.CRS_CHOICES,
                                  format_func=lambda c: t(f"data.crs.{c}"), key="data_crs")
        epsg = ""
        if crs_choice == "epsg":
            epsg = st.text_input(t("data.crs.epsg_code"),
                                 placeholder=t("data.crs.epsg_placeholder"), key="data_epsg")
    crs = datapage.crs_value(crs_choice, epsg)

    if upload is None:
        st.info(t("data.wait"))
    else:
        found = datapage.checked(upload, kind=kind, crs=crs)
        datapage.preview_table(found)
        if not datapage.file_error(found):
            st.markdown(f"**{t('data.check')}**")
            datapage.report_kpis(found.report)
            datapage.problems(found)
            datapage.import_button(upload, found, kind=kind, crs=crs)
    datapage.templates(kind)

with right:
    st.markdown(f"**{t('data.loaded')}**")
    st.dataframe(datapage.table_counts(), hide_index=True, width="stretch")

if data.has_grids():
    datapage.population_map()
else:
    st.info(t("msg.empty_db"))

users, tokens = st.columns(2)
with users:
    st.markdown(f"**{t('data.accounts')}**")
    table = datapage.accounts_table()
    if table.empty:
        st.info(t("data.accounts.none"))
    else:
        st.dataframe(table, hide_index=True, width="stretch")
with tokens:
    st.markdown(f"**{t('data.tokens')}**")
    table = datapage.wall_tokens_table()
    if table.empty:
        st.caption(t("data.tokens.none"))
    else:
        st.dataframe(table, hide_index=True, width="stretch")

alliance.manage_members()

st.markdown(f"**{t('data.audit')}**")
action = st.selectbox(t("data.audit.filter"), [None, *datapage.AUDIT_ACTIONS],
                      format_func=lambda a: t("data.audit.filter.all") if a is None
                      else t(f"data.audit.action.{a}"), key="audit_action")
lines = datapage.audit(200, action=action)
if lines.empty:
    st.caption(t("data.audit.none"))
else:
    st.dataframe(lines, hide_index=True, width="stretch")
