"""Browser assets served from ``static/`` so that no page ever loads a script from a CDN.

GridMap's own script (``static/gridmap/``) is committed with the code. Leaflet comes from the
PyPI package django-js-lib-leaflet (BSD, Leaflet 1.9.4), installed with GridMap's own
dependencies; this module copies its files into ``static/vendor/leaflet`` where Streamlit's
static file serving (``server.enableStaticServing``) publishes them under ``/app/static/``.
Nothing is fetched at run time and nothing third-party is committed.
"""

from __future__ import annotations

import hashlib
import shutil
from importlib import resources
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
#: URL prefix of static/ under Streamlit's static serving.
STATIC_URL = "/app/static"
LEAFLET_JS = f"{STATIC_URL}/vendor/leaflet/leaflet.js"
LEAFLET_CSS = f"{STATIC_URL}/vendor/leaflet/leaflet.css"
#: GridMap's canvas of grid polygons (geo/maps.py ``GridCanvas``), committed in static/.
GRIDCANVAS_FILE = STATIC_DIR / "gridmap" / "gridcanvas.js"


def _versioned(path: Path, url: str) -> str:
    # Streamlit serves static/ without a cache lifetime, so a browser may keep an old copy
    # by heuristic: a content hash in the query makes a changed script a new URL.
    try:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    except OSError:  # pragma: no cover - a checkout without static/
        return url
    return f"{url}?v={digest}"


#: URL of :data:`GRIDCANVAS_FILE`, versioned by its content.
GRIDCANVAS_JS = _versioned(GRIDCANVAS_FILE, f"{STATIC_URL}/gridmap/gridcanvas.js")


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


#: Files GridMap writes for the browser at run time (packed grid geometry), under static/.
CACHE_DIR = STATIC_DIR / "cache"


def publish(body: bytes, *, name: str, keep: int = 8, target: Path = CACHE_DIR) -> str:
    """Write ``body`` as ``static/cache/<name>`` (once) and return its URL path.

    Names carry a content hash, so a file never changes once written and the browser may
    cache it. Only the ``keep`` newest files are kept, so the folder does not grow while
    the data changes over days.

    Returns
    -------
    str
        The path under Streamlit's static serving, such as ``/app/static/cache/<name>``.

    """
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    if not path.is_file():
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(body)
        partial.replace(path)  # atomic: a browser never reads half a file
        old = sorted(target.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[keep:]:
            stale.unlink(missing_ok=True)
    else:
        path.touch()
    return f"{STATIC_URL}/cache/{name}"
