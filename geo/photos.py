"""Resolution photos: check that an upload is a small image, and strip what it says about where.

A grid head resolving a request may attach a photo from the phone. Phones write the place
into the file (EXIF GPS) and often much more; residents' homes must not leak through a
picture. :func:`clean_photo` decodes the upload with Pillow (so a file that only claims to be
an image is refused), checks its size and pixel count, and re-encodes the pixels alone: no
EXIF, no GPS, no maker notes, the orientation applied.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: The largest upload accepted (bytes). A phone photo is 2–5 MB; we keep a resized copy.
MAX_BYTES = 8 * 1024 * 1024
#: Decoding bombs: refuse anything with more pixels than this (a 48 MP phone is 8064×6048).
MAX_PIXELS = 50_000_000
#: Stored photos are scaled down to fit this box (pixels): enough to see a fallen tree.
STORED_SIDE = 1600
#: Formats accepted on upload, and what is stored.
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class PhotoError(ValueError):
    """An upload that is not a usable photo. ``reason`` is a short code the UI words."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Photo:
    """A cleaned photo, ready to store."""

    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def clean_photo(data: bytes, *, max_bytes: int = MAX_BYTES) -> Photo:
    """Check an uploaded photo and return it re-encoded without metadata.

    Parameters
    ----------
    data : bytes
        The file as uploaded.
    max_bytes : int
        The largest upload accepted.

    Returns
    -------
    Photo
        JPEG (or PNG for images with transparency), at most :data:`STORED_SIDE` pixels a
        side, with no EXIF or other metadata.

    Raises
    ------
    PhotoError
        ``too_large`` (bytes or pixels), ``not_image`` (not a JPEG, PNG or WebP image),
        ``empty``.

    """
    if not data:
        raise PhotoError("the photo is empty", reason="empty")
    if len(data) > max_bytes:
        raise PhotoError(f"the photo is {len(data) / 1e6:.1f} MB; at most "
                         f"{max_bytes / 1e6:.0f} MB", reason="too_large")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            w, h = probe.size
            if kind not in ACCEPTED:
                raise PhotoError(f"a {kind or 'unknown'} file is not accepted; send JPEG, "
                                 "PNG or WebP", reason="not_image")
            if w * h > MAX_PIXELS:
                raise PhotoError(f"the photo has {w}×{h} pixels; at most {MAX_PIXELS:,}",
                                 reason="too_large")
            image = ImageOps.exif_transpose(probe)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError("the file is not an image", reason="not_image") from None
    except Image.DecompressionBombError:
        raise PhotoError("the photo has too many pixels", reason="too_large") from None
    image.thumbnail((STORED_SIDE, STORED_SIDE))
    alpha = image.mode in ("RGBA", "LA", "P") and "transparency" in image.info \
        or image.mode in ("RGBA", "LA")
    out = io.BytesIO()
    # Only the pixels are written: Pillow adds no EXIF unless asked to.
    if alpha:
        image.convert("RGBA").save(out, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
        content_type = "image/jpeg"
    clean = out.getvalue()
    return Photo(data=clean, content_type=content_type, width=image.width,
                 height=image.height, sha256=hashlib.sha256(clean).hexdigest())


def data_uri(data: bytes, content_type: str) -> str:
    """Return a stored photo as a ``data:`` URI, to put in the page itself.

    A picture shown with ``st.image`` gets a URL under ``/media/`` that answers anyone who
    has it, signed in or not; inlined, it travels only to the session that may see the
    request (the read is scope-checked in :func:`geo.worklist.photo_for`).

    Raises
    ------
    ValueError
        ``content_type`` is not one stored photos have.

    """
    if content_type not in ACCEPTED.values():
        raise ValueError(f"not a stored photo type: {content_type!r}")
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
