"""Small display pieces the pages share: KPI tiles, map legends, tables of residents' text.

Everything here writes HTML only from catalogue text and formatted numbers, or escapes what
it shows: residents' words never reach the page as markup (DESIGN §6).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from ui.text import t

# Icons from Streamlit's bundled Material Symbols font: an emoji (a check mark, a no-entry
# sign) needs an emoji font, which intranet PCs often lack, and then shows as an empty box.
#: Icon of a success message.
ICON_OK = ":material/check_circle:"
#: Icon of a refusal or an error that stops the page.
ICON_DENIED = ":material/block:"
#: Icon of a warning or a failure the user can fix.
ICON_WARN = ":material/warning:"


def legend(items: Sequence[tuple[str, str]], *, title: str | None = None,
           horizontal: bool = True) -> None:
    """A map legend as plain HTML: a colour swatch and a label per class (no branca)."""
    parts = [f'<span class="gm-legend-title">{html.escape(title or t("legend.title"))}</span>']
    for colour, label in items:
        parts.append(
            f'<span class="gm-legend-item"><span class="gm-swatch" '
            f'style="background:{html.escape(colour)}"></span>{html.escape(label)}</span>')
    cls = "gm-legend gm-legend-row" if horizontal else "gm-legend gm-legend-col"
    st.markdown(f'<div class="{cls}">{"".join(parts)}</div>', unsafe_allow_html=True)


def kpi_tiles(tiles: Sequence[tuple[str, str, str | None]], *, alert: Sequence[bool] = ()
              ) -> None:
    """A row of KPI tiles: (label, value, note) each; ``alert`` marks tiles to draw in red."""
    cells = []
    for i, (label, value, note) in enumerate(tiles):
        warn = " gm-alert" if i < len(alert) and alert[i] else ""
        extra = f'<div class="gm-kpi-note">{html.escape(note)}</div>' if note else ""
        cells.append(f'<div class="gm-kpi{warn}"><div class="gm-kpi-label">'
                     f'{html.escape(label)}</div><div class="gm-kpi-value">'
                     f'{html.escape(value)}</div>{extra}</div>')
    st.markdown(f'<div class="gm-kpis">{"".join(cells)}</div>', unsafe_allow_html=True)


#: Styles for the pieces above, on light pages; kiosk mode overrides them (ui/kiosk.py).
CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; }
/* Streamlit's "Press Enter to submit form" is English and covers a narrow box's text; the
   search form has its own button. */
[data-testid="stSidebar"] [data-testid="InputInstructions"] { display:none; }
/* A browser script (cookies) draws nothing: no gap for it either, so that the page below
   does not move when it is there on one run and not on the next. */
[data-testid="stElementContainer"]:has(> [data-testid="stHtml"] > script:only-child) {
  display:none; }
.gm-legend { display:flex; flex-wrap:wrap; gap:.35rem 1rem; align-items:center;
  font-size:.9rem; margin:.25rem 0 .5rem; }
.gm-legend-col { flex-direction:column; align-items:flex-start; }
.gm-legend-title { font-weight:600; }
.gm-legend-item { display:inline-flex; align-items:center; gap:.35rem; }
.gm-swatch { display:inline-block; width:1.1em; height:1.1em; border-radius:3px;
  border:1px solid rgba(0,0,0,.25); }
.gm-kpis { display:grid; grid-template-columns:repeat(auto-fit, minmax(9.5rem, 1fr));
  gap:.6rem; margin:.25rem 0 .75rem; }
.gm-kpi { background:#f4f6fa; border-radius:.5rem; padding:.55rem .8rem;
  border-left:.3rem solid #90a4ae; }
.gm-kpi.gm-alert { border-left-color:#c62828; }
.gm-kpi-label { font-size:.85rem; color:#455a64; }
.gm-kpi-value { font-size:1.9rem; font-weight:700; line-height:1.15;
  font-variant-numeric: tabular-nums; }
.gm-kpi.gm-alert .gm-kpi-value { color:#c62828; }
.gm-kpi-note { font-size:.78rem; color:#607d8b; }
.gm-ticker { list-style:none; padding:0; margin:0; }
.gm-ticker li { padding:.4rem .2rem; border-bottom:1px solid rgba(0,0,0,.08); }
.gm-ticker .gm-when { font-variant-numeric: tabular-nums; color:#c62828; font-weight:600;
  margin-right:.5rem; }
.gm-ticker .gm-where { font-weight:600; margin-right:.5rem; }
.gm-ticker li.gm-lv-1 { border-left:.3rem solid #e67700; padding-left:.5rem; }
.gm-ticker li.gm-lv-2 { border-left:.3rem solid #c62828; padding-left:.5rem; }
.gm-ticker li.gm-lv-3 { border-left:.3rem solid #7b1fa2; padding-left:.5rem; }
.gm-ticker .gm-text { display:block; white-space:nowrap; overflow:hidden;
  text-overflow:ellipsis; }
.gm-ticker .gm-due { display:block; opacity:.8; font-size:.85em; }
/* Escalation levels (督办): due soon amber, overdue red, long overdue purple. */
.gm-badges { display:flex; flex-wrap:wrap; gap:.4rem; margin:.1rem 0 .5rem; }
.gm-badges .gm-badge { font-size:.95rem; padding:.15em .55em; }
.gm-badge { display:inline-block; padding:0 .35em; border-radius:.25em; font-size:.85em;
  font-weight:700; line-height:1.5; margin-right:.45rem; color:#fff; white-space:nowrap; }
.gm-badge.gm-lv-0 { background:#607d8b; }
.gm-badge.gm-lv-1 { background:#e67700; }
.gm-badge.gm-lv-2 { background:#c62828; }
.gm-badge.gm-lv-3 { background:#7b1fa2; }
.gm-badge.gm-new { background:#1971c2; }
.gm-ticker-title { font-weight:700; margin-top:.25rem; }
</style>
"""


def browser_script(script: str | None) -> None:
    """Run ``script`` (a ``<script>`` element) in the page, or hold its place empty.

    The slot exists on every run: an element that appears on one run only shifts every
    element after it, and Streamlit then shows the old copy of each (a second sign-in form,
    a second map) until the run ends.
    """
    if script is None:
        st.empty()
    else:
        st.html(script, unsafe_allow_javascript=True)


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal (our own catalogue text, quoted all the same)."""
    escaped = "".join(c if c.isalnum() or c in " ·•,.-_()（）、：:" else f"\\{ord(c):x} "
                      for c in text)
    return f'"{escaped}"'


def uploader_text(label: str, *, types: Sequence[str], max_mb: int) -> None:
    """Put the page's language on the file uploader labelled ``label``.

    Streamlit writes its uploader's button ("Upload") and limit line in English, with no
    option to change them; this style, sent before the uploader, shows ours in their place.
    """
    box = f'section[data-testid="stFileUploaderDropzone"][aria-label={_css_string(label)}]'
    limit = t("upload.limit", mb=max_mb, types=", ".join(x.upper() for x in types))
    st.html(f"<style>{box} button [data-testid=stMarkdownContainer] p {{ font-size:0; }}"
            f"{box} button [data-testid=stMarkdownContainer] p::after {{ "
            f"content:{_css_string(t('upload.button'))}; font-size:.875rem; }}"
            f"{box} [data-testid=stFileUploaderDropzoneInstructions] span {{ font-size:0; "
            "white-space:normal; }"
            f"{box} [data-testid=stFileUploaderDropzoneInstructions] span::after {{ "
            f"content:{_css_string(limit)}; font-size:.875rem; }}</style>")


def page_css() -> None:
    """Add the shared styles to the page (once per run)."""
    st.markdown(CSS, unsafe_allow_html=True)
