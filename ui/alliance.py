"""解忧联盟 on the pages: member management (Data page), cards and claims (grid detail).

Every write goes through :mod:`geo.alliance`, which checks role and scope again; the forms
here only offer what the signed-in role may do. Residents' text on a card is shown as
text, never as markup (st.dataframe and escaped Markdown).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from geo import alliance, vocab
from geo.access import AccessDenied
from geo.actions import ActionRefused
from ui import data, widgets
from ui.text import count, literal, number, rate, t, when

#: The window of the claim figures in grid detail (days).
CLAIM_DAYS = 90
#: Cards listed in grid detail.
CARD_LIMIT = 50
_FLASH = "_alliance_flash"


def refusal(exc: Exception) -> str:
    """Word a refusal from geo/ in the user's language (its reason code, else the message)."""
    key = f"alliance.refused.{getattr(exc, 'reason', '')}"
    from ui.text import catalogue

    return t(key) if key in catalogue() else literal(str(exc), limit=200)


def kind_label(code: object) -> str:
    """单位 / 社会组织 / 商户 (unit / NGO / shop)."""
    return t(f"alliance.kind.{code}") if code in vocab.MEMBER_KINDS else str(code)


# --------------------------------------------------------------------------- Data page


def members_table(*, personal: bool = False) -> pd.DataFrame:
    """Members with kind, areas, state and contact (masked unless ``personal``)."""
    frame = alliance.members(data.engine(), data.scope(), personal=personal)
    return pd.DataFrame({
        t("alliance.col.name"): frame["name"],
        t("alliance.col.kind"): frame["kind"].map(kind_label),
        t("alliance.col.areas"): frame["areas"].map(
            lambda a: "、".join(f"{data.area_name(c)} {c}" for c in a)),
        t("alliance.col.contact"): frame["contact_name"].fillna("—"),
        t("alliance.col.phone"): frame["contact_phone"].fillna("—"),
        t("alliance.col.account"): frame["account"].fillna("—"),
        t("alliance.col.state"): frame["disabled"].map(
            lambda d: t("alliance.state.disabled") if d else t("alliance.state.active")),
        t("alliance.col.created"): frame["created_at"].map(when),
    })


def manage_members() -> None:
    """The Data page's 解忧联盟 section: the members, an add form, disable and enable."""
    st.markdown(f"**{t('alliance.members')}**")
    st.caption(t("alliance.members.intro"))
    personal = st.toggle(t("alliance.personal"), key="alliance_personal",
                         help=t("alliance.personal.help"))
    table = members_table(personal=personal)
    if table.empty:
        st.caption(t("alliance.members.none"))
    else:
        st.dataframe(table, hide_index=True, width="stretch")
    add, change = st.columns(2)
    with add, st.form("alliance_add", clear_on_submit=True):
        st.markdown(f"**{t('alliance.add')}**")
        name = st.text_input(t("alliance.col.name"), max_chars=64)
        kind = st.selectbox(t("alliance.col.kind"), list(vocab.MEMBER_KINDS),
                            format_func=kind_label)
        areas = st.text_input(t("alliance.areas"), help=t("alliance.areas.help"))
        contact = st.text_input(t("alliance.col.contact"), max_chars=64)
        phone = st.text_input(t("alliance.col.phone"), max_chars=32)
        account = st.text_input(t("alliance.col.account"), help=t("alliance.account.help"))
        if st.form_submit_button(t("alliance.add.submit"), type="primary"):
            codes = [c for c in areas.replace("，", ",").replace("、", ",")
                     .replace(" ", ",").split(",") if c.strip()]
            try:
                alliance.add_member(data.engine(), data.scope(), name=name, kind=kind,
                                    areas=codes, contact_name=contact, contact_phone=phone,
                                    account=account or None, now=data.now())
            except alliance.MemberError as exc:
                st.error(t("alliance.add.failed", field=t(f"alliance.field.{exc.field}"),
                           reason=literal(str(exc), limit=200)), icon=widgets.ICON_WARN)
            except AccessDenied as exc:
                st.error(refusal(exc), icon=widgets.ICON_DENIED)
            else:
                st.success(t("alliance.added", name=literal(name)), icon=widgets.ICON_OK)
    with change:
        names = alliance.members(data.engine(), data.scope())["name"].tolist()
        if names:
            chosen = st.selectbox(t("alliance.change"), names, key="alliance_change")
            off, on = st.columns(2)
            for col, disabled, label in ((off, True, "alliance.disable"),
                                         (on, False, "alliance.enable")):
                if col.button(t(label), key=f"alliance_{label}"):
                    try:
                        alliance.set_member_disabled(data.engine(), data.scope(), name=chosen,
                                                     disabled=disabled)
                    except (alliance.MemberError, AccessDenied) as exc:
                        st.error(refusal(exc), icon=widgets.ICON_DENIED)
                    else:
                        st.rerun()


# --------------------------------------------------------------------------- grid detail


def claim_figures(code: str) -> None:
    """The grid's claim rate and median time to claim over the last :data:`CLAIM_DAYS`."""
    until = data.now()
    figures = alliance.claim_totals(data.engine(), since=until - timedelta(days=CLAIM_DAYS),
                                    until=until, scope=data.scope(), grid_codes=[code])
    st.caption(t("alliance.figures", days=CLAIM_DAYS, claimable=count(figures.claimable),
                 claimed=count(figures.claimed), rate=rate(figures.claim_rate),
                 hours=number(figures.median_hours, digits=1)))


def grid_cards(code: str) -> None:
    """The grid's open market and charity cards, and a claim form for who may claim."""
    who = data.scope()
    st.markdown(f"**{t('alliance.cards')}**")
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash, icon=widgets.ICON_OK)
    if who.role not in alliance.CLAIM_ROLES | {"commander"}:
        return
    claim_figures(code)
    try:
        cards = alliance.claimable_cards(data.engine(), who, grid_code=code, limit=CARD_LIMIT)
    except (AccessDenied, ActionRefused) as exc:
        st.caption(refusal(exc))
        return
    if cards.empty:
        st.caption(t("alliance.cards.none"))
        return
    st.dataframe(pd.DataFrame({
        t("alliance.card.id"): cards["external_id"].fillna(cards["id"].astype(str)),
        t("alliance.card.route"): cards["route"].map(lambda r: t(f"route.{r}")
                                                     if isinstance(r, str) else "—"),
        t("alliance.card.category"): cards["category"].map(lambda c: t(f"category.{c}")),
        t("alliance.card.reported"): cards["reported_at"].map(when),
        t("alliance.card.address"): cards["address"].fillna(""),
        t("alliance.card.description"): cards["description"].fillna(""),
    }), hide_index=True, width="stretch")
    if who.role == "commander":
        return
    members = None
    if who.role != "alliance":
        members = alliance.members(data.engine(), who, include_disabled=False, grid_code=code)
        if members.empty:
            st.caption(t("alliance.cards.no_member"))
            return
    labels = dict(zip(cards["id"], cards["external_id"].fillna(cards["id"].astype(str)),
                      strict=True))
    with st.form(f"alliance_claim_{code}"):
        chosen = st.selectbox(t("alliance.card.choose"), list(labels),
                              format_func=lambda i: labels[i])
        member = (st.selectbox(t("alliance.claim.member"), members["name"].tolist())
                  if members is not None else None)
        note = st.text_input(t("alliance.claim.note"), max_chars=200)
        if st.form_submit_button(t("alliance.claim"), type="primary"):
            row = cards.set_index("id").loc[chosen]
            seen = None if pd.isna(row["updated_at"]) else pd.Timestamp(
                row["updated_at"]).to_pydatetime()
            try:
                alliance.claim(data.engine(), who, request_id=int(chosen), member=member,
                               seen_status=str(row["status"]), seen_updated_at=seen,
                               note=note or None, now=data.now())
            except (AccessDenied, ActionRefused) as exc:
                st.error(refusal(exc), icon=widgets.ICON_DENIED)
            else:
                data.refresh()
                st.session_state[_FLASH] = t("alliance.claimed", card=literal(labels[chosen]),
                                             member=literal(member or who.actor))
                st.rerun()
