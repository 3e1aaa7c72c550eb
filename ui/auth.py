"""The sign-in gate: wall tokens, OIDC (``st.login``) where configured, local accounts.

:func:`gate` runs in app.py before any page. It returns the session's
:class:`~geo.access.Scope`, or draws the sign-in form and stops the script. What a scope
may read is enforced below the UI (geo/ takes it on every read, and ui/data.py passes it);
the gate only decides who the session is.

Failed sign-ins are throttled in the database by client address and by account name
(geo.accounts), so neither a reload nor a fresh browser resets the wait. A signed-in
browser holds a server-side session: the cookie carries only its signed id, and sign-out
ends it on the server, so a copied cookie is worthless afterwards.

The cookie is written by the page's own script (Streamlit gives a page no way to set a
response header), so it cannot be HttpOnly; README.md says what mitigates that.
"""

from __future__ import annotations

import streamlit as st

from geo import accounts, client, clock
from geo.access import AccessDenied, Scope
from geo.store.engine import database_url
from ui import data, kiosk, widgets
from ui.text import LANG_NAMES, LANGS, catalogue, literal, t

#: The browser cookie that resumes a signed-in account after a reload or a new tab
#: (a Streamlit session lives only as long as its websocket).
COOKIE = "gridmap_session"
_COOKIE_PENDING = "_cookie_pending"
_SIGNED_OUT = "_signed_out"


def _oidc_configured() -> bool:
    # st.login needs an [auth] section in .streamlit/secrets.toml; without one, local
    # accounts are the only way in.
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def gate() -> Scope:
    """Return the session's scope, or show the sign-in form (or a refusal) and stop."""
    problems = data.password_problems(database_url())
    if problems:
        st.error(t("auth.demo_passwords", names=literal(", ".join(problems))),
                 icon=widgets.ICON_DENIED)
        st.stop()
    token = st.query_params.get("token")
    if token:
        return _wall_token(token)
    account = st.session_state.get(data.ACCOUNT_KEY) or _resume()
    if isinstance(account, accounts.Account):
        try:
            account.scope  # noqa: B018 - a grid head without areas may not sign in
        except AccessDenied:
            sign_out()
            st.error(t("auth.no_areas"))
            st.stop()
        try:
            return data.scope()  # re-checks the server-side session once a minute
        except AccessDenied:
            # Signed out elsewhere, password changed, account disabled or sessions ended
            # by an admin: back to the sign-in form.
            sign_out()
            st.warning(t("auth.session_ended"))
    if _oidc_configured() and getattr(st.user, "is_logged_in", False):
        _map_oidc_identity()
    _sign_in_form()
    st.stop()


def _resume() -> accounts.Account | None:
    """The account of the browser's session cookie, if its session is live."""
    if st.session_state.get(_SIGNED_OUT):
        return None
    token = st.context.cookies.get(COOKIE) if st.context.cookies else None
    if not token:
        return None
    try:
        account = accounts.account_for_session(data.engine(), token)
    except AccessDenied:
        return None
    st.session_state[data.ACCOUNT_KEY] = account
    st.session_state[data.SESSION_KEY] = token
    return account


def _header(name: str) -> str | None:
    headers = st.context.headers
    return headers.get(name) if headers else None


def client_address() -> str:
    """The browser's address, through as many proxies as ``GRIDMAP_PROXY_HOPS`` trusts."""
    return client.client_address(st.context.ip_address, _header("X-Forwarded-For"),
                                 hops=client.proxy_hops())


def _https() -> bool:
    return client.is_https(st.context.url, _header("X-Forwarded-Proto"),
                           hops=client.proxy_hops())


def _cookie_script(value: str, max_age: int, *, secure: bool = False) -> str:
    # The value is our own token (base64url and hex joined by a dot) or empty: nothing to
    # escape, but it is checked so that no other text can reach the script.
    if not all(c.isalnum() or c in "-_." for c in value):
        raise ValueError("unexpected characters in a session token")
    flags = "; Secure" if secure else ""
    return (f"<script>document.cookie = '{COOKIE}={value}; path=/; max-age={max_age}; "
            f"SameSite=Strict{flags}';</script>")


def write_cookie() -> None:
    """Hand a fresh session token to the browser (once, on the run after sign-in)."""
    token = st.session_state.pop(_COOKIE_PENDING, None)
    if token is None:
        widgets.browser_script(None)
        return
    max_age = int(accounts.SESSION_LIFETIME.total_seconds()) if token else 0
    widgets.browser_script(_cookie_script(token, max_age, secure=_https()))


def _wall_token(token: str) -> Scope:
    st.session_state.pop(data.ACCOUNT_KEY, None)
    st.session_state[data.WALL_TOKEN_KEY] = token
    try:
        return data.scope()
    except AccessDenied as exc:
        st.session_state.pop(data.WALL_TOKEN_KEY, None)
        kiosk.apply()  # a wall screen stays dark, also when it is refused
        st.error(token_refusal(exc), icon=widgets.ICON_DENIED)
        st.stop()
        raise


def token_refusal(exc: AccessDenied) -> str:
    """The wall-token refusal in the UI language (the reason code, not the log message)."""
    key = f"auth.token.{getattr(exc, 'reason', 'refused')}"
    reason = t(key) if key in catalogue() else t("auth.token.refused")
    return t("auth.token_bad", reason=reason)


def _map_oidc_identity() -> None:
    email = str(getattr(st.user, "email", "") or "")
    try:
        account = accounts.account_for_email(data.engine(), email)
    except AccessDenied:
        st.error(t("auth.oidc_unmapped", email=literal(email)))
        if st.button(t("auth.logout"), key="oidc_logout"):
            st.logout()
        st.stop()
    _start_session(account)
    st.rerun()


def _sign_in_form() -> None:
    write_cookie()  # after a sign-out: expire the browser's session cookie
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.radio(t("sidebar.language"), LANGS, key="lang", horizontal=True,
                 format_func=LANG_NAMES.get)
        st.title(t("auth.title"))
        if _oidc_configured():
            st.button(t("auth.oidc"), on_click=st.login, key="oidc_login", type="primary")
        with st.form("login", clear_on_submit=False):
            username = st.text_input(t("auth.username"), key="login_user", max_chars=64)
            password = st.text_input(t("auth.password"), type="password", key="login_password",
                                     max_chars=256)
            submitted = st.form_submit_button(t("auth.submit"), type="primary", key="login_submit")
        if accounts.is_demo(data.engine()):
            st.caption(t("auth.demo_hint"))
        if submitted:
            _try_sign_in(username.strip(), password)


def _try_sign_in(username: str, password: str) -> None:
    try:
        account = accounts.authenticate(data.engine(), username, password,
                                        client=client_address())
    except accounts.LoginError as exc:
        if exc.reason == "throttled":
            left = (exc.until - clock.now(precision="s")).total_seconds() if exc.until else 1
            seconds = max(1, int(left + 0.999))
            st.error(t("auth.throttled", seconds=seconds))
        elif exc.reason == "disabled":
            st.error(t("auth.disabled"))
        else:  # unknown and bad_password look the same to the user
            st.error(t("auth.failed"))
        return
    try:
        account.scope  # noqa: B018 - a grid head without areas may not sign in
    except AccessDenied:
        st.error(t("auth.no_areas"))
        return
    _start_session(account)
    st.rerun()


def _start_session(account: accounts.Account) -> None:
    """Hold ``account`` in this Streamlit session with a new server-side session."""
    token = accounts.issue_session(data.engine(), account)
    st.session_state.pop(_SIGNED_OUT, None)
    st.session_state[data.ACCOUNT_KEY] = account
    st.session_state[data.SESSION_KEY] = token
    st.session_state[_COOKIE_PENDING] = token


def sign_out() -> None:
    """End the server-side session and forget the account (and the OIDC session, if any)."""
    token = st.session_state.pop(data.SESSION_KEY, None)
    if token:
        accounts.end_session(data.engine(), token)
    st.session_state.pop(data.ACCOUNT_KEY, None)
    st.session_state.pop(data.WALL_TOKEN_KEY, None)
    st.session_state[_SIGNED_OUT] = True
    st.session_state[_COOKIE_PENDING] = ""  # expire the browser's cookie
    if _oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def account_box() -> None:
    """The sidebar's who-am-I line, areas and sign-out button."""
    account = st.session_state.get(data.ACCOUNT_KEY)
    if not isinstance(account, accounts.Account):
        return
    st.caption(t("auth.signed_in", name=literal(account.display_name),
                 role=t(f"role.{account.role}")))
    if account.areas:
        names = ", ".join(literal(data.area_name(a)) for a in account.areas)
        st.caption(t("auth.areas", areas=names))
    if st.button(t("auth.logout"), key="logout"):
        sign_out()
        st.rerun()
