"""Wall-screen (kiosk) mode: no Streamlit chrome, dark, type sized for 1920×1080 at 5 m.

Streamlit's theme is set per server, so kiosk mode darkens the page with CSS instead. At
1080 px a 1 rem base of 22 px keeps KPI figures about 5 cm tall on a 55-inch screen, which
reads from 5 m.
"""

from __future__ import annotations

import streamlit as st

KIOSK_CSS = """
<style>
html { font-size: 22px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stSidebarNav"], footer { display: none !important; }
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
  background: #0b1220 !important; color: #e8eef5 !important; }
[data-testid="stMainBlockContainer"], .block-container {
  padding: .6rem 1.2rem .4rem 1.2rem !important; max-width: 100% !important; }
.stApp h1, .stApp h2, .stApp h3, .stApp p, .stApp span, .stApp label, .stApp li {
  color: #e8eef5 !important; }
.gm-kpi { background: #131d2e; border-left-color: #4f6b8a; }
.gm-kpi-label { color: #b0bec5 !important; font-size: .95rem; }
.gm-kpi-value { font-size: 2.6rem; color: #ffffff !important; }
.gm-kpi.gm-alert .gm-kpi-value { color: #ff6b6b !important; }
.gm-kpi-note { color: #90a4ae !important; }
.gm-legend { font-size: .9rem; }
.gm-swatch { border-color: rgba(255,255,255,.35); }
.gm-ticker li { border-bottom-color: rgba(255,255,255,.12); font-size: .95rem; }
.gm-ticker .gm-when { color: #ff8a80 !important; }
[data-testid="stAlert"] { background: #2a1f10 !important; }
</style>
"""


def apply() -> None:
    """Hide the chrome and darken the page (call once per run, before drawing)."""
    st.markdown(KIOSK_CSS, unsafe_allow_html=True)
