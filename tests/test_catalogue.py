"""The text catalogue and the icons: nothing that needs an emoji font (intranet PCs lack one)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ui import catalogue, widgets

ROOT = Path(__file__).resolve().parents[1]
#: Emoji and pictographs, dingbats and miscellaneous symbols (✅ ⛔ ⚠ 🔥 …), the emoji
#: variation selector and the keycap mark: drawn from an emoji font, or as an empty box.
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF"
                   "\uFE0F\u20E3]")
MATERIAL = re.compile(r"^:material/[a-z0-9_]+:$")


def _sources() -> list[Path]:
    return [*sorted((ROOT / "ui").rglob("*.py")), *sorted((ROOT / "pages").glob("*.py")),
            ROOT / "app.py"]


def test_no_catalogue_string_holds_an_emoji():
    table = catalogue.load()
    bad = {key: pair for key, pair in table.items() if any(EMOJI.search(s) for s in pair)}
    assert not bad
    assert EMOJI.search("完成 ✅") and EMOJI.search("⚠️")  # the pattern does catch them


def test_every_icon_argument_is_a_bundled_material_icon():
    icons = {name: getattr(widgets, name) for name in dir(widgets) if name.startswith("ICON_")}
    assert len(icons) >= 3 and all(MATERIAL.match(v) for v in icons.values()), icons
    seen = 0
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg in ("icon", "page_icon"):
                seen += 1
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    assert MATERIAL.match(value.value), (path.name, value.value)
                elif isinstance(value, ast.Attribute):  # widgets.ICON_OK and the like
                    assert value.attr in icons, (path.name, value.lineno, value.attr)
                # else a variable (a page's icon built from its name, a local file path)
    assert seen > 30


def test_no_string_in_the_ui_code_holds_an_emoji():
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not EMOJI.search(node.value), (path.name, node.lineno, node.value)
