"""Who may see what: roles, area scopes and the masking of personal data (DESIGN §8).

A :class:`Scope` travels with every read that :mod:`geo.store` and the modules above it
make for a user. Its ``areas`` are admin-unit or grid codes; ``None`` means every area.
:func:`geo.store.access.scope_condition` turns it into SQL, so a page that forgets to filter, a
tampered ``?grid=`` or a direct call still gets only rows inside the scope.

Roles (:data:`ROLES`):

* ``commander``: every area, read; reporters' contacts masked (张*, 138****1234).
* ``grid_head``: their own grids or community; reporters' contacts shown for those grids.
* ``planner``: every area, read and export; no personal data.
* ``admin``: everything, including import, accounts and exports with personal data.
* ``wall``: a wall screen's token: the command wall of one area, no personal data.
* ``alliance``: a 解忧联盟 member's account: sees and claims the market and charity cards of
  the areas it serves (:mod:`geo.alliance`), nothing else; no personal data.

This module is plain Python: it neither reads the database nor imports streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

#: Role -> (areas: "all" or "own"; reporters' contacts: "none" (not read at all),
#: "masked", "own" (clear in their own grids) or "all"; may export).
ROLES: dict[str, tuple[str, str, bool]] = {
    "commander": ("all", "masked", False),
    "grid_head": ("own", "own", False),
    "planner": ("all", "none", True),
    "admin": ("all", "all", True),
    "wall": ("own", "none", False),
    "alliance": ("own", "none", False),
}

#: Pages each role may open (file stems under pages/).
PAGES: dict[str, frozenset[str]] = {
    "commander": frozenset({"wall", "grid", "worklist", "coverage", "hotspots", "bulletin"}),
    "grid_head": frozenset({"wall", "grid", "worklist", "coverage", "hotspots", "bulletin"}),
    "planner": frozenset({"wall", "grid", "coverage", "hotspots", "bulletin", "export"}),
    "admin": frozenset({"wall", "grid", "worklist", "coverage", "hotspots", "bulletin",
                        "export", "data"}),
    "wall": frozenset({"wall"}),
    "alliance": frozenset({"grid"}),
}

_CODE = re.compile(r"^\d{6}(\d{3}){0,3}$")


class AccessDenied(PermissionError):
    """A read or action outside the caller's scope or role.

    ``reason`` is a short code the UI words in its own language (``revoked``, ``expired``,
    ``unknown``, ``outside``…); the message is for logs and the command line.
    """

    def __init__(self, message: str, *, reason: str = "refused") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Scope:
    """What one caller may read.

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.
    areas : tuple of str or None
        Admin-unit or grid codes the caller may read; None means every area.
    actor : str
        Who is asking, for the audit log (account name, ``wall:<token name>``, ``cli``).

    """

    role: str
    areas: tuple[str, ...] | None = None
    actor: str = "system"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {sorted(ROLES)}")
        if self.areas is not None:
            bad = [a for a in self.areas if not _CODE.match(str(a))]
            if bad:
                raise ValueError(f"scope area codes must be 6, 9, 12 or 15 digits: {bad}")
            if not self.areas:
                raise ValueError("a scope with areas needs at least one code")

    @classmethod
    def everything(cls, *, actor: str = "system") -> Scope:
        """Unrestricted, with personal data: the command line and admin jobs."""
        return cls("admin", None, actor)

    @property
    def everywhere(self) -> bool:
        """True when no area restriction applies."""
        return self.areas is None

    @property
    def personal(self) -> str:
        """Reporters' contacts: ``"none"``, ``"masked"``, ``"own"`` (in the areas), ``"all"``."""
        return ROLES[self.role][1]

    @property
    def may_export(self) -> bool:
        """True for roles that may download exports."""
        return ROLES[self.role][2]

    def may_open(self, page: str) -> bool:
        """Return True when the role may open the page (a file stem under pages/)."""
        return page in PAGES[self.role]

    def covers_code(self, code: str | None) -> bool:
        """Return True when ``code`` (a grid or admin code) lies inside the scope by prefix.

        Statistical codes (统计用区划代码) nest by prefix; :func:`geo.store.access.scope_condition`
        also follows the stored hierarchy, so this is the quick check for URLs and inputs.
        """
        if self.areas is None:
            return True
        if code is None:
            return False
        code = str(code)
        return any(code.startswith(a) for a in self.areas)

    def sees_contacts(self) -> bool:
        """Return True when reporters' contacts may be read at all (perhaps masked)."""
        return self.personal != "none"


def restricted(areas: Iterable[str] | None, *, role: str, actor: str) -> Scope:
    """Build the scope of an account from its role and stored areas.

    Roles that read every area ignore ``areas``; roles bound to areas without any get
    :class:`AccessDenied`, never an unrestricted scope.
    """
    if ROLES.get(role, ("own",))[0] == "all":
        return Scope(role, None, actor)
    codes = tuple(sorted({str(a).strip() for a in (areas or ()) if str(a).strip()}))
    if not codes:
        raise AccessDenied(f"account {actor!r} ({role}) has no areas assigned")
    return Scope(role, codes, actor)


def mask_name(name: object) -> object:
    """Keep the first character of a name: 张三 -> 张*, 欧阳娜娜 -> 欧***."""
    if not isinstance(name, str) or not name.strip():
        return name
    name = name.strip()
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: object) -> object:
    """Keep a phone's first three and last four digits: 13812341234 -> 138****1234."""
    if not isinstance(phone, str) or not phone.strip():
        return phone
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_email(email: object) -> object:
    """Keep an e-mail's first character and domain: wang@example.cn -> w***@example.cn."""
    if not isinstance(email, str) or "@" not in email:
        return mask_name(email)
    user, _, domain = email.strip().partition("@")
    return f"{user[:1]}***@{domain}"


#: A digit as residents type it: ASCII or full width (Chinese input methods give both).
_D = "[0-9\uff10-\uff19]"
_SEP = "[- \u2010-\u2015\uff0d]?"  # hyphens, dashes and spaces inside a number
#: Contacts in free text: ID-card numbers (18 digits, the last may be X), mobiles (with or
#: without +86 and separators), fixed lines (area code 0xx/0xxx then 7–8 digits, with a
#: hyphen, a space, brackets or nothing between), e-mail addresses.
_CONTACT_PATTERNS = (
    (re.compile(rf"(?<![0-9A-Za-z\uff10-\uff19]){_D}{{17}}[0-9Xx\uff10-\uff19\uff38\uff58]"
                r"(?![0-9A-Za-z\uff10-\uff19])"), mask_phone),
    (re.compile(rf"(?<!{_D})(?:(?:\+|\uff0b)?[8\uff18][6\uff16]{_SEP})?[1\uff11][3-9\uff13-\uff19]"
                rf"{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}(?!{_D})"), mask_phone),
    (re.compile(rf"(?<!{_D})[(\uff08]?[0\uff10]{_D}{{2,3}}[)\uff09]?{_SEP}{_D}{{7,8}}(?!{_D})"),
     mask_phone),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), mask_email),
)


def mask_text(text: object, *, names: Iterable[object] = (),
              contacts: Iterable[object] = ()) -> object:
    """Mask the personal data in free text (a handler's note) before it is shown publicly.

    Phone and ID-card numbers and e-mail addresses are masked wherever they appear; the
    ``names`` given (the reporter's, of two characters or more) and ``contacts`` given
    (the reporter's phone and e-mail as stored, in whatever form) are masked where they
    occur verbatim. A name not given cannot be recognised in free text.
    """
    if not isinstance(text, str) or not text:
        return text
    given = [*((n, mask_name) for n in names),
             *((c, mask_email if "@" in str(c) else mask_phone) for c in contacts)]
    for value, mask in given:
        if isinstance(value, str) and len(value.strip()) >= 2:
            text = text.replace(value.strip(), str(mask(value.strip())))
    for pattern, mask in _CONTACT_PATTERNS:
        text = pattern.sub(_replacer(mask), text)
    return text


def _replacer(mask: Callable[[object], object]) -> Callable[[re.Match[str]], str]:
    return lambda match: str(mask(match.group(0)))


_MASKS = {"reporter_name": mask_name, "reporter_phone": mask_phone,
          "reporter_email": mask_email, "head_name": mask_name, "head_phone": mask_phone,
          # 解忧联盟 members' contacts and volunteers' names (migration 0008).
          "contact_name": mask_name, "contact_phone": mask_phone, "volunteer": mask_name}


#: Residents' and handlers' free text: phone and ID numbers in it are masked with the
#: contacts (:func:`mask_text`), for the same readers and rows.
FREE_TEXT = ("description", "address", "note")


def mask_frame(frame: pd.DataFrame, scope: Scope, *, grid_column: str = "grid_code",
               columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Mask the personal data of ``frame`` in rows the scope may not see in clear.

    Admins see everything; a grid head sees contacts of rows in their own grids (by
    ``grid_column``); everyone else sees every contact masked. Free text (:data:`FREE_TEXT`)
    in the same rows goes through :func:`mask_text`, with the row's own reporter name and
    contacts masked too when the frame has them.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with any of ``reporter_name``, ``reporter_phone``, ``reporter_email``,
        ``head_name``, ``head_phone`` and the free-text columns.
    scope : Scope
        Who is looking.
    grid_column : str
        The column holding each row's grid code (for ``"own"`` scopes).
    columns : iterable of str, optional
        Which columns to mask; default every known personal and free-text column present.

    Returns
    -------
    pandas.DataFrame
        A copy with masked values (the input is left alone).

    """
    wanted = list(columns) if columns is not None else [*_MASKS, *FREE_TEXT]
    names = [c for c in wanted if c in frame.columns]
    if not names or scope.personal == "all":
        return frame
    out = frame.copy()
    if scope.personal == "own" and grid_column in out.columns:
        hide = ~out[grid_column].map(scope.covers_code).astype(bool)
    else:
        hide = pd.Series(True, index=out.index)
    hidden = out.loc[hide]
    # The reporter's own name and contacts, verbatim in their text, before they are masked.
    who = [hidden[c] if c in hidden.columns else pd.Series(None, index=hidden.index,
                                                            dtype=object)
           for c in ("reporter_name", "reporter_phone", "reporter_email")]
    for col in names:
        out[col] = out[col].astype(object)
        if col in FREE_TEXT:
            values = [mask_text(v, names=name_forms(n), contacts=(p, e))
                      for v, n, p, e in zip(hidden[col], *who, strict=True)]
        else:
            fn = _MASKS.get(col, mask_name)
            values = [fn(v) for v in hidden[col]]
        # A list, not Series.map: pandas turns a None that map returns into NaN.
        out.loc[hide, col] = pd.Series(values, index=out.index[hide], dtype=object)
    return out


def name_forms(name: object) -> list[object]:
    """Return a stored name ("王 小明") as free text writes it: with and without the space."""
    return [name, name.replace(" ", "")] if isinstance(name, str) else []
