"""Version comparison for real-world version strings (OpenSSH, OpenSSL, MySQL, distributions).

A version string is split into

* an optional **epoch** (``1:`` as in Debian/RPM) — compared first;
* the **upstream** version: numbers separated by ``.``/``_``, OpenSSH patch levels (``9.2p1``
  sorts after ``9.2``), OpenSSL letter releases (``1.0.2k`` after ``1.0.2j`` after ``1.0.2``),
  pre-releases (``dev`` < ``alpha``/``a`` < ``beta``/``b`` < milestone ``M1`` < ``pre``/
  ``preview`` < ``rc``/``cr`` < ``snapshot`` < the release), Java qualifiers (``.Final``,
  ``.RELEASE``, ``.GA`` equal the plain release) and service packs (``sp1``) after it;
* vendor **suffixes** such as MySQL's ``-log``, ``-community`` or ``-MariaDB``: ignored;
* the **distribution revision** (``-97.el7``, ``-2+deb12u3``, ``-0ubuntu0.22.04.1``): it only
  breaks ties between equal upstream versions.

Trailing zero components do not count (``8.0`` equals ``8.0.0``). ``*`` (any) and ``-`` (not
applicable) from CPE names get their own places in the order (``-`` first, ``*`` last) so that
the order stays total; matching code treats them before comparing. Every string is accepted:
the order is a comparison of keys computed from the text, hence a total preorder by
construction, and unparseable text simply yields a key of its words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

# A key item: (kind, number or rank, number, word). Kinds order the items at one position.
Item = tuple[int, int, int, str]
VersionKey = tuple[int, int, tuple[Item, ...], tuple[Item, ...]]

_PRE, _END, _POST, _NUM = 1, 2, 3, 4
_END_ITEM: Item = (_END, 0, 0, "")

# Pre-release words and their rank among each other (all sort before the release).
_PRE_RANK = {
    "dev": 0,
    "a": 1,
    "alpha": 1,
    "b": 2,
    "beta": 2,
    "m": 3,
    "milestone": 3,
    "ea": 3,
    "pre": 4,
    "preview": 4,
    "c": 5,
    "rc": 5,
    "cr": 5,
    "snapshot": 6,
}
# Words that mean "the release itself" (Java qualifiers): no effect on the order.
_RELEASE_WORDS = frozenset({"final", "release", "ga", "stable"})
# Post-release words followed by a number (OpenSSH p1, patch 2, service pack, Java update).
_POST_RANK = {"p": 1, "pl": 1, "patch": 1, "post": 1, "sp": 2, "u": 3, "update": 3}

_ANY_CLASS, _NA_CLASS, _PLAIN_CLASS = 2, 0, 1
_MAX_NUMBER = 10**30  # huge digit runs are clamped: int() refuses > 4300 digits
_TOKEN = re.compile(r"[0-9]+|[a-z]+", re.ASCII)
_EPOCH = re.compile(r"^([0-9]{1,9}):(?=.)")
_MARIADB_PREFIX = re.compile(r"^5\.5\.5-(?=[0-9]+\.[0-9]+)")
_QUALIFIER_PART = re.compile(
    r"^(?:dev|alpha|a|beta|b|milestone|m|ea|preview|pre|rc|cr|snapshot|c|p|pl|patch|post|sp"
    r"|final|release|ga|stable)(?:[._]?[0-9]+)*$",
    re.ASCII,
)


@dataclass(frozen=True, order=True)
class Version:
    """A parsed version: ordered, hashable and equal by its key (the text is kept for display)."""

    key: VersionKey
    text: str = field(compare=False)

    @property
    def is_any(self) -> bool:
        """True for the CPE wildcard ``*``."""
        return self.key[0] == _ANY_CLASS

    @property
    def is_na(self) -> bool:
        """True for the CPE "not applicable" value ``-``."""
        return self.key[0] == _NA_CLASS

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Parts:
    epoch: int
    upstream: str
    revision: str


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _MAX_NUMBER if len(digits) > 30 else int(digits)


@lru_cache(maxsize=65536)
def _split(text: str) -> _Parts:
    """Split a lower-cased version into epoch, upstream (with qualifiers) and revision."""
    epoch = 0
    match = _EPOCH.match(text)
    if match:
        epoch, text = int(match.group(1)), text[match.end() :]
    if "mariadb" in text:
        # MariaDB announces itself to MySQL clients as "5.5.5-10.11.19-MariaDB".
        text = _MARIADB_PREFIX.sub("", text)
    if text[:1] == "v" and text[1:2].isdigit():
        text = text[1:]
    core, _, rest = text.partition("-")
    # "~" (Debian "sorts before") and "+" (build metadata) end the upstream core as well.
    core, tilde, after_tilde = core.partition("~")
    core, plus, after_plus = core.partition("+")
    upstream = [core]
    revision: list[str] = []
    if tilde:
        tail = after_tilde + (f"-{rest}" if rest else "")
        head, _, rest = tail.partition("-")
        if _QUALIFIER_PART.match(head):
            upstream.append(head)
        else:
            revision.append(head)
    if plus:
        revision.append(after_plus)
    for part in rest.split("-") if rest else []:
        if revision:
            revision.append(part)
        elif _QUALIFIER_PART.match(part):
            upstream.append(part)
        elif part[:1].isdigit() or re.match(r"^r[0-9]+$", part):
            revision.append(part)
        # Anything else is a vendor suffix (-log, -community, -MariaDB): ignored.
    return _Parts(epoch, "-".join(p for p in upstream if p), "-".join(revision))


def _upstream_items(upstream: str) -> tuple[Item, ...]:
    tokens = _TOKEN.findall(upstream)
    leading: list[int] = []
    index = 0
    while index < len(tokens) and tokens[index].isdigit():
        leading.append(_number(tokens[index]))
        index += 1
    while leading and leading[-1] == 0:
        leading.pop()
    items: list[Item] = [(_NUM, n, 0, "") for n in leading]
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.isdigit():
            items.append((_NUM, _number(token), 0, ""))
            continue
        follows = index < len(tokens) and tokens[index].isdigit()
        if token in _RELEASE_WORDS:
            continue
        if token in _PRE_RANK and (follows or len(token) > 1):
            number = _number(tokens[index]) if follows else 0
            index += follows
            items.append((_PRE, _PRE_RANK[token], number, ""))
        elif token in _POST_RANK and follows:
            items.append((_POST, _POST_RANK[token], _number(tokens[index]), ""))
            index += 1
        else:
            # Letter releases (OpenSSL 1.0.2k, 0.9.8za) and unknown words: after the base.
            items.append((_POST, 0, 0, token))
    items.append(_END_ITEM)
    return tuple(items)


def _revision_items(revision: str) -> tuple[Item, ...]:
    return tuple(
        (_NUM, _number(tok), 0, "") if tok.isdigit() else (_POST, 0, 0, tok)
        for tok in _TOKEN.findall(revision)
    )


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version:
    """Parse any string into a comparable :class:`Version` (never raises)."""
    clean = text.strip().lower()
    if clean in {"*", ""}:
        return Version((_ANY_CLASS, 0, (), ()), text)
    if clean == "-":
        return Version((_NA_CLASS, 0, (), ()), text)
    parts = _split(clean)
    key = (
        _PLAIN_CLASS,
        parts.epoch,
        _upstream_items(parts.upstream),
        _revision_items(parts.revision),
    )
    return Version(key, text)


def compare_versions(a: str, b: str) -> int:
    """Return -1, 0 or 1 as version ``a`` is older than, equal to or newer than ``b``."""
    key_a, key_b = parse_version(a).key, parse_version(b).key
    return (key_a > key_b) - (key_a < key_b)


def upstream_version(text: str) -> str:
    """The upstream part of a version: no epoch, distribution revision or vendor suffix.

    ``1:9.2p1-2+deb12u3`` → ``9.2p1``; ``10.11.19-MariaDB-0+deb12u1`` → ``10.11.19``;
    ``5.7.44-log`` → ``5.7.44``; pre-release qualifiers stay (``8.0.0-rc1``).
    """
    clean = text.strip()
    if clean in {"*", "-", ""}:
        return clean
    lowered = clean.lower()
    upstream = _split(lowered).upstream
    # Return the original spelling (case) of the kept text where it is a contiguous piece.
    start = lowered.find(upstream)
    return clean[start : start + len(upstream)] if upstream and start >= 0 else upstream


# Distribution markers showing a packaged build (fixes may be back-ported without changing the
# upstream version). Order matters: the first pattern that matches names the distribution.
_BACKPORT_MARKERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"deb[0-9]+u[0-9]+", re.ASCII), "Debian"),
    (re.compile(r"~bpo[0-9]*", re.ASCII), "Debian"),
    (re.compile(r"[0-9]+ubuntu[0-9.~]*|ubuntu[0-9][0-9.~]*", re.ASCII), "Ubuntu"),
    (re.compile(r"(?<![a-z])el[0-9]+(?:_[0-9]+)*", re.ASCII), "Red Hat Enterprise Linux"),
    (re.compile(r"amzn[0-9]*", re.ASCII), "Amazon Linux"),
    (re.compile(r"(?<![a-z])ky[0-9]+|kylin", re.ASCII), "Kylin"),
    (re.compile(r"openeuler|(?<![a-z])oe[0-9]+", re.ASCII), "openEuler"),
    (re.compile(r"(?<![a-z])an[0-9]+(?:_[0-9]+)*", re.ASCII), "Anolis OS"),
    (re.compile(r"(?<![a-z])uel[0-9]+", re.ASCII), "UnionTech OS"),
)


def distro_backport(text: str) -> str | None:
    """The distribution tag in a version (``deb12u1``, ``el7_9``, ``ky10``, ...) or None.

    Only the part after the upstream version is searched, so upstream text cannot trigger it.
    """
    found = _backport_marker(text)
    return found[0] if found else None


def distro_family(text: str) -> str | None:
    """The distribution named by the backport marker in ``text`` (``Debian``, ``Ubuntu``, ...)."""
    found = _backport_marker(text)
    return found[1] if found else None


def find_distro_marker(text: str) -> tuple[str, str] | None:
    """Search free text (an OS hint, banner comment) for a marker: ``(tag, distribution)``."""
    return _search_markers(text.lower())


def _backport_marker(text: str) -> tuple[str, str] | None:
    lowered = text.strip().lower()
    epoch = _EPOCH.match(lowered)
    body = lowered[epoch.end() :] if epoch else lowered
    upstream = _split(lowered).upstream
    start = body.find(upstream) if upstream else -1
    return _search_markers(body[start + len(upstream) :] if start >= 0 else body)


def _search_markers(tail: str) -> tuple[str, str] | None:
    for pattern, family in _BACKPORT_MARKERS:
        match = pattern.search(tail)
        if match:
            return match.group(0).strip("~"), family
    return None
