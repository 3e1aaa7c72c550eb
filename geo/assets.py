"""Browser assets served from ``static/`` so that no page ever loads a script from a CDN.

Leaflet comes from the PyPI package django-js-lib-leaflet (BSD, Leaflet 1.9.4), installed with
GridMap's own dependencies; this module copies its files into ``static/vendor/leaflet`` where
Streamlit's static file serving (``server.enableStaticServing``) publishes them under
``/app/static/``. Nothing is fetched at run time and nothing third-party is committed.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
#: URL prefix of static/ under Streamlit's static serving.
STATIC_URL = "/app/static"
LEAFLET_JS = f"{STATIC_URL}/vendor/leaflet/leaflet.js"
LEAFLET_CSS = f"{STATIC_URL}/vendor/leaflet/leaflet.css"


def _leaflet_source() -> Path:
    try:
        root = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    except ModuleNotFoundError as exc:  # pragma: no cover - a broken install
        raise RuntimeError(
            "Leaflet is missing: install GridMap's dependencies (pip install -e .), which "
            "include the package django-js-lib-leaflet"
        ) from exc
    return Path(str(root))


def install_assets(*, target: Path = VENDOR_DIR) -> list[Path]:
    """Copy Leaflet's JS, CSS and images into ``static/vendor/leaflet`` (idempotent).

    Returns
    -------
    list of Path
        The files now present.

    """
    src = _leaflet_source()
    dest = target / "leaflet"
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in ("leaflet.js", "leaflet.css"):
        shutil.copy2(src / name, dest / name)
        copied.append(dest / name)
    shutil.copytree(src / "images", dest / "images", dirs_exist_ok=True)
    copied.extend(sorted((dest / "images").iterdir()))
    return copied


def assets_ready(*, target: Path = VENDOR_DIR) -> bool:
    """Return True when the Leaflet files are in place."""
    return all((target / "leaflet" / n).is_file() for n in ("leaflet.js", "leaflet.css"))
