"""Wall-screen (kiosk) mode: no Streamlit chrome, dark, sized to the screen it runs on.

Streamlit's theme is set per server, so kiosk mode darkens the page with CSS instead.
Everything is sized from the viewport, so one URL fills a 1920×1080 screen and a
3840×2160 one alike with nothing below the fold (nobody is there to scroll):

* the root font size is about 2 % of the screen's height (22 px at 1080 lines, 44 px at
  2160), bounded by its width for narrow screens; every size below is in rem;
* the map's frame is the screen's height less the rows above and below it (``calc``);
* the ticker is 1.3 rem (29 px at 1080 lines): Chinese read from 5 m wants 28 px or more
  (a character about 1 cm tall on a 55-inch screen); the map's county names are sized
  by the map itself (static/gridmap/gridcanvas.js, about 2 % of its width).
"""

from __future__ import annotations

import streamlit as st

KIOSK_CSS = """
<style>
html { font-size: clamp(14px, min(2.04vh, 1.15vw), 96px); }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stSidebarNav"], footer { display: none !important; }
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
  background: #0b1220 !important; color: #e8eef5 !important; }
[data-testid="stMainBlockContainer"], .block-container {
  padding: .35rem 1rem .2rem 1rem !important; max-width: 100% !important; }
[data-testid="stVerticalBlock"] { gap: .35rem !important; }
/* Streamlit pulls the element after a Markdown block up by a negative margin; with the
   tighter gaps above, the tiles would then overlap the title. */
.stApp [data-testid="stMarkdownContainer"], .stApp [data-testid="stMarkdown"] {
  margin-bottom: 0 !important; }
[data-testid="stHorizontalBlock"] { gap: 1rem !important; }
.stApp h1, .stApp h2, .stApp h3, .stApp p, .stApp span, .stApp label, .stApp li {
  color: #e8eef5 !important; }
.stApp h2.gm-wall-title { font-size: 1.45rem !important; line-height: 1.3 !important;
  margin: 0 !important; padding: 0 !important; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.gm-wall-title .gm-as-of { font-size: .7em; font-weight: 400; color: #b0bec5 !important; }
.gm-kpis { gap: .45rem; margin: 0; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); }
.gm-kpi { background: #131d2e; border-left-color: #4f6b8a; padding: .3rem .6rem; }
.gm-kpi-label { color: #b0bec5 !important; font-size: .85rem; }
.gm-kpi-value { font-size: 2.2rem; line-height: 1.1; color: #ffffff !important; }
.gm-kpi.gm-alert .gm-kpi-value { color: #ff6b6b !important; }
.gm-kpi-note { color: #90a4ae !important; font-size: .7rem; }
/* The map fills what the header, tiles and legend leave of the screen. */
iframe[title="streamlit_folium.st_folium"] { height: calc(100vh - 12.7rem) !important; }
.gm-legend { font-size: 1rem; margin: .1rem 0 0; gap: .2rem .9rem; }
.gm-swatch { border-color: rgba(255,255,255,.35); }
.gm-ticker-title { font-size: 1.1rem; font-weight: 700; margin-top: .2rem; }
.gm-ticker { max-height: calc(100vh - 17rem); overflow: hidden; }
.gm-ticker li { border-bottom-color: rgba(255,255,255,.12); font-size: 1.3rem;
  line-height: 1.3; padding: .25rem .2rem .25rem .5rem; }
.gm-ticker .gm-due { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.gm-ticker .gm-due { font-size: .8em; }
.gm-ticker .gm-when { color: #ff8a80 !important; }
.gm-badge.gm-new { background: #1971c2; }
[data-testid="stCaptionContainer"] p { font-size: .85rem; color: #b0bec5 !important; }
[data-testid="stAlert"] { background: #2a1f10 !important; }
</style>
"""


def apply() -> None:
    """Hide the chrome and darken the page (call once per run, before drawing)."""
    st.markdown(KIOSK_CSS, unsafe_allow_html=True)
