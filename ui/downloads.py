"""Download buttons whose file exists from the click, for that one download (issue 17).

A plain ``st.download_button`` puts its file under ``/media/<id>`` when the page draws, and
the URL answers anyone who has it (a proxy log, a shared screen, a copied link) until the
session's files are cleaned up. Here:

* the file is handed to Streamlit only when the button is clicked: the browser asks for
  it over its own session's websocket (Streamlit's deferred download), so no URL exists
  before the click and none reaches another session;
* the ``/media/`` URL it then gets answers twice, the two reads Streamlit's button makes
  (a check that the file is there, then the download), and is gone after: a replay of the
  URL is a 404. Streamlit drops a download nobody fetched at the next script run.

The bytes are made when the page draws, under the page's scope checks, as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.media_file_storage import MediaFileKind
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

_LOCK = threading.Lock()
#: Marks a storage whose downloads are already single-use (once per server process).
_MARK = "_gridmap_single_use"


def button(label: str, *, body: bytes, file_name: str, mime: str, key: str,
           **options: Any) -> None:
    """A download button for ``body``; its URL is made on the click, for one download.

    Parameters
    ----------
    label : str
        The button's text.
    body : bytes
        The file, already made and checked against the reader's scope.
    file_name, mime : str
        Name and media type of the file the browser saves.
    key : str
        The widget key (stable across reruns).
    **options
        Passed on to ``st.download_button`` (``icon``, ``type``, ``help``…).

    """
    single_use()
    st.download_button(label, data=_deferred(body), file_name=file_name, mime=mime, key=key,
                       on_click="ignore", **options)


def _deferred(body: bytes) -> Callable[[], bytes]:
    def make() -> bytes:
        return body

    return make


#: Reads of one download's URL: Streamlit's frontend fetches it once to check that it is
#: there (``checkSourceUrlResponse``) and then once more as the download.
READS = 2


def single_use() -> bool:
    """Make this server's downloadable ``/media/`` files answer one download; True once set.

    Images and other media (``st.image``) are left alone: only downloads are removed, after
    :data:`READS` reads. Without a running server (AppTest) there is nothing to change.
    """
    if not Runtime.exists():
        return False
    storage = getattr(Runtime.instance().media_file_mgr, "_storage", None)
    if not isinstance(storage, MemoryMediaFileStorage):
        return False  # another storage: Streamlit's own rules apply
    with _LOCK:
        if getattr(storage, _MARK, False):
            return True
        read, url_of = storage.get_file, storage.get_url
        reads: dict[str, int] = {}
        naming = threading.local()  # get_url looks the file up to name it: not a read

        def get_url(file_id: str) -> str:
            naming.on = True
            try:
                return url_of(file_id)
            finally:
                naming.on = False

        def get_file_limited(filename: str):  # noqa: ANN202 - Streamlit's MemoryFile
            found = read(filename)
            if found.kind == MediaFileKind.DOWNLOADABLE and not getattr(naming, "on", False):
                file_id = os.path.splitext(filename)[0]
                with _LOCK:
                    reads[file_id] = reads.get(file_id, 0) + 1
                    if reads[file_id] >= READS:
                        del reads[file_id]
                        storage.delete_file(file_id)
            return found

        storage.get_url = get_url  # type: ignore[method-assign]
        storage.get_file = get_file_limited  # type: ignore[method-assign]
        setattr(storage, _MARK, True)
    return True
