"""geo.photos: images only, size checked, EXIF (and its GPS) stripped."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from geo import photos


def _jpeg(*, size=(40, 30), exif=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 80, 40))
    if exif is None:
        image.save(out, format="JPEG")
    else:
        image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (28.0, 33.0, 54.0), 3: "E", 4: (112.0, 18.0, 12.0)}
    exif[0x8825] = gps  # GPSInfo
    return exif


def test_gps_exif_is_stripped():
    raw = _jpeg(exif=_gps_exif())
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the upload carries GPS
    photo = photos.clean_photo(raw)
    cleaned = Image.open(io.BytesIO(photo.data))
    assert photo.content_type == "image/jpeg"
    assert dict(cleaned.getexif()) == {}
    assert b"PhoneMaker" not in photo.data
    assert (photo.width, photo.height) == (40, 30)
    assert len(photo.sha256) == 64


def test_a_non_image_is_refused():
    with pytest.raises(photos.PhotoError) as err:
        photos.clean_photo(b"%PDF-1.4 not a photo at all")
    assert err.value.reason == "not_image"


def test_a_gif_is_not_an_accepted_format():
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, format="GIF")
    with pytest.raises(photos.PhotoError) as err:
        photos.clean_photo(out.getvalue())
    assert err.value.reason == "not_image"


def test_an_oversized_file_is_refused_before_decoding():
    with pytest.raises(photos.PhotoError) as err:
        photos.clean_photo(_jpeg(), max_bytes=100)
    assert err.value.reason == "too_large"
    assert "MB" in str(err.value)


def test_large_photos_are_scaled_down_to_the_stored_side():
    photo = photos.clean_photo(_jpeg(size=(3200, 1000)))
    assert (photo.width, photo.height) == (photos.STORED_SIDE, 500)


def test_empty_upload():
    with pytest.raises(photos.PhotoError) as err:
        photos.clean_photo(b"")
    assert err.value.reason == "empty"


def test_a_stored_photo_is_inlined_as_a_data_uri_never_a_url():
    import base64

    photo = photos.clean_photo(_jpeg())
    uri = photos.data_uri(photo.data, photo.content_type)
    head, _, body = uri.partition(",")
    assert head == "data:image/jpeg;base64"
    assert base64.b64decode(body) == photo.data
    with pytest.raises(ValueError):
        photos.data_uri(b"<svg onload=alert(1)>", "image/svg+xml")
