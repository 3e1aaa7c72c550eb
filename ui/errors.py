"""Unexpected errors: a short message with an error id for the user, the details in the log.

Streamlit's own error box is set to show nothing of the exception
(``client.showErrorDetails = "none"`` in .streamlit/config.toml); app.py catches what a
page raises and calls :func:`report`, so the user sees an id to quote and the admin finds
the traceback under that id in the server log. A fragment's reruns do not pass through
app.py: wrap its function in :func:`guarded` (inside ``st.fragment``).
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from typing import ParamSpec

import streamlit as st

from geo.access import AccessDenied
from ui import widgets
from ui.text import literal, t

P = ParamSpec("P")

log = logging.getLogger("gridmap.app")


def logged(exc: BaseException, *, where: str) -> str:
    """Log ``exc`` with its traceback under a new error id; return the id to show."""
    error_id = secrets.token_hex(4)
    log.error("error %s on page %s: %s", error_id, where, exc.__class__.__name__, exc_info=exc)
    return error_id


def report(exc: BaseException, *, where: str) -> str:
    """Log ``exc`` with its traceback under a new error id, show the id; return the id.

    ``where`` (the page) goes to the log line, not to the user.
    """
    error_id = logged(exc, where=where)
    st.error(t("msg.unexpected", id=error_id), icon=widgets.ICON_DENIED)
    return error_id


def guarded(where: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Wrap a fragment's function: a refusal or an error is shown in place, never raised.

    A scope refusal (:class:`~geo.access.AccessDenied`, e.g. a wall token revoked while the
    wall runs) shows its reason; anything else goes through :func:`report`.
    """
    def wrap(func: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                func(*args, **kwargs)
            except AccessDenied as exc:
                st.error(t("auth.refused", reason=literal(str(exc))), icon=widgets.ICON_DENIED)
            except Exception as exc:  # noqa: BLE001 - shown with an id, logged in full
                report(exc, where=where)
        return run
    return wrap
