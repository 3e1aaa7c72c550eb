"""GridMap's one text catalogue: every label the UI shows, in 中文 and English.

The catalogue is split by page only so that a page's strings sit together; :mod:`ui.text`
merges the parts into one table and refuses a key defined twice. Each entry is
``key: (中文, English)``. Strings may hold ``{placeholders}`` for :func:`ui.text.t`.
"""

from __future__ import annotations

from importlib import import_module

#: The catalogue's parts, in load order.
PARTS = ("common", "wall", "detail", "coverage", "hotspots", "export", "data", "bulletin",
         "auth", "worklist", "alliance")


def load() -> dict[str, tuple[str, str]]:
    """Merge every part into one table, refusing duplicate keys."""
    table: dict[str, tuple[str, str]] = {}
    for part in PARTS:
        strings = import_module(f"ui.catalogue.{part}").STRINGS
        for key, pair in strings.items():
            if key in table:
                raise ValueError(f"text key {key!r} is defined twice (again in {part})")
            table[key] = pair
    return table
