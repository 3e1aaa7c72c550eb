"""Who is on the other end of a browser connection: client address and scheme.

Behind a reverse proxy the app sees the proxy's address; the proxy passes the client's in
``X-Forwarded-For`` and the scheme in ``X-Forwarded-Proto``. Those headers are written by
whoever sends the request, so they are believed only for the number of proxy hops the site
configures (``GRIDMAP_PROXY_HOPS``, default 0: no proxy, headers ignored). With N trusted
hops, the client is the N-th address from the right of ``X-Forwarded-For``: each trusted
proxy appends the address it saw, and anything further left was written by the client.
"""

from __future__ import annotations

import ipaddress
import os

PROXY_HOPS_ENV = "GRIDMAP_PROXY_HOPS"
#: The address used when the connection's own address is unknown or local.
LOCAL = "local"


def proxy_hops() -> int:
    """``GRIDMAP_PROXY_HOPS``: how many reverse proxies in front of the app to trust (0..10).

    Raises
    ------
    ValueError
        The value is not a whole number from 0 to 10.

    """
    raw = os.environ.get(PROXY_HOPS_ENV, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > 10:
        raise ValueError(f"{PROXY_HOPS_ENV}={raw!r}: expected a whole number from 0 to 10")
    return int(raw)


def _trusted_entry(header: str | None, hops: int) -> str | None:
    """Return the header's entry written by the outermost trusted proxy, or None."""
    if hops <= 0 or not header:
        return None
    entries = [e.strip() for e in header.split(",") if e.strip()]
    if not entries:
        return None
    return entries[-hops] if len(entries) >= hops else entries[0]


def client_address(peer: str | None, forwarded_for: str | None, *, hops: int) -> str:
    """Return the client's address for throttling sign-ins.

    Parameters
    ----------
    peer : str or None
        The connection's own address (``st.context.ip_address``; None for localhost).
    forwarded_for : str or None
        The ``X-Forwarded-For`` header, trusted only when ``hops`` > 0.
    hops : int
        Trusted proxy hops (:func:`proxy_hops`).

    Returns
    -------
    str
        A normalised IP address, or :data:`LOCAL` when none is known.

    """
    for candidate in (_trusted_entry(forwarded_for, hops), peer):
        if not candidate:
            continue
        try:
            return str(ipaddress.ip_address(candidate.strip().strip("[]")))
        except ValueError:
            continue  # not an address (a forged or garbled header): fall back to the peer
    return LOCAL


def is_https(url: str | None, forwarded_proto: str | None, *, hops: int) -> bool:
    """Return True when the browser reached the site over HTTPS.

    ``X-Forwarded-Proto`` from a trusted proxy decides when ``hops`` > 0 (the proxy
    terminates TLS); otherwise the scheme of the page's URL (``st.context.url``).
    """
    proto = _trusted_entry(forwarded_proto, hops)
    if proto:
        return proto.lower() == "https"
    return (url or "").lower().startswith("https://")
