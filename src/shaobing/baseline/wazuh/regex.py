"""The regular expressions of Wazuh SCA rules, turned into Python ``re`` patterns.

Wazuh knows three pattern languages:

* **OS_Regex** (the default of Wazuh 4.x policies): ``\\w \\d \\s \\t \\p \\W \\D \\S``,
  ``\\.`` for *any* character (a bare ``.`` is a literal dot), ``+``/``*`` only after a
  backslash expression, ``^``/``$`` anchors, ``|`` between whole alternatives, ``( )``
  capture groups (one level) and the escapes ``\\$ \\( \\) \\\\ \\| \\<``. It ignores case.
  We translate it token by token. OS_Regex has no real backtracking (it gives up where a
  ``+``/``*`` swallowed what the rest needed); we keep Python's full backtracking, so in
  such corner cases we may find a match where the agent would not. A ``^`` that does not
  start an alternative and a ``$`` that does not end one are taken as literal characters.
* **sregex** (OS_Match, used by 4.x for file names in ``d:`` rules): literal text with
  ``^``, ``$``, ``|`` and a leading ``!``; it ignores case too.
* **PCRE2** (``regex_type: pcre2``, and the only engine of the Wazuh 5 agent whose policy
  layout the ``name``-keyed files use): passed to Python mostly as is; ``\\h``, ``\\Q..\\E``,
  ``(?<name>`` and POSIX classes are rewritten, ``\\K``, recursion and verbs are refused.
  Classes are ASCII, as in PCRE2 without UCP.

Patterns come from untrusted files, so catastrophic backtracking is guarded: the star
height check of the template engine refuses nested unbounded quantifiers and
back-references, OS_Regex repetitions that cannot overlap what follows are made possessive
(which is also how the agent's own engine behaves), and every subject line is at most
:data:`MAX_LINE` characters (the agent reads files through a buffer of that size, so longer
lines are matched piece by piece). Polynomial cases such as a chain of ``.*`` remain
possible but are bounded by the line length.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from shaobing.core.i18n import t
from shaobing.templates.dsl.errors import HelperFailure
from shaobing.templates.dsl.regex import check_safe

#: Longest subject matched at once (the agent's ``fgets`` buffer of 2048 bytes holds 2047).
MAX_LINE = 2047
#: Longest pattern accepted (the agent's OS_PATTERN_MAXSIZE is 2048).
MAX_PATTERN = 4096


class Engine(StrEnum):
    """Which pattern language a rule's ``r:``/``n:`` text is written in."""

    OSREGEX = "osregex"
    PCRE2 = "pcre2"


class RegexError(ValueError):
    """A pattern that cannot be used; ``reason`` is a translated one-line explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _CharSet:
    """Characters an atom can match: ``chars``, or everything but them when ``complement``."""

    chars: frozenset[str]
    complement: bool = False

    def overlaps(self, other: _CharSet) -> bool:
        if self.complement and other.complement:
            return True
        if self.complement:
            return not other.chars <= self.chars
        if other.complement:
            return not self.chars <= other.chars
        return bool(self.chars & other.chars)


_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-@_")
_DIGIT = frozenset("0123456789")
_PUNCT = frozenset("()*+,-.:;<=>?[]!\"'#$%&|{}")
# (Python class body, characters) of each OS_Regex backslash class.
_OS_CLASSES: dict[str, tuple[str, _CharSet]] = {
    "w": (r"[A-Za-z0-9@_\-]", _CharSet(_WORD)),
    "d": ("[0-9]", _CharSet(_DIGIT)),
    "s": ("[ ]", _CharSet(frozenset(" "))),
    "t": (r"\t", _CharSet(frozenset("\t"))),
    "p": ("[" + "".join(re.escape(c) for c in sorted(_PUNCT)) + "]", _CharSet(_PUNCT)),
    "W": (r"[^A-Za-z0-9@_\-]", _CharSet(_WORD, complement=True)),
    "D": ("[^0-9]", _CharSet(_DIGIT, complement=True)),
    "S": ("[^ ]", _CharSet(frozenset(" "), complement=True)),
    ".": (".", _CharSet(frozenset(), complement=True)),
}
_OS_LITERAL_ESCAPES = frozenset("$()\\|<")


@dataclass
class _Atom:
    """One OS_Regex token: a character or class (with its quantifier) or a group mark."""

    text: str
    charset: _CharSet | None  # None for "(" and ")"
    quantifier: str = ""


def _literal(char: str, ignore_case: bool) -> _Atom:
    chars = {char, char.lower(), char.upper()} if ignore_case else {char}
    return _Atom(re.escape(char), _CharSet(frozenset(chars)))


def _os_tokens(alternative: str, ignore_case: bool) -> list[_Atom]:
    atoms: list[_Atom] = []
    depth = 0
    i = 0
    while i < len(alternative):
        char = alternative[i]
        if char == "\\":
            if i + 1 >= len(alternative):
                raise RegexError(t("baseline_wazuh.regex.trailing_backslash"))
            code = alternative[i + 1]
            if code in _OS_CLASSES:
                body, charset = _OS_CLASSES[code]
                atom = _Atom(body, charset)
            elif code in _OS_LITERAL_ESCAPES:
                atom = _literal(code, ignore_case)
            else:
                raise RegexError(t("baseline_wazuh.regex.bad_escape", escape="\\" + code))
            i += 2
            if i < len(alternative) and alternative[i] in "+*":
                atom.quantifier = alternative[i]
                i += 1
            atoms.append(atom)
            continue
        if char == "(":
            if depth:
                raise RegexError(t("baseline_wazuh.regex.nested_group"))
            depth += 1
            atoms.append(_Atom("(", None))
        elif char == ")":
            if not depth:
                raise RegexError(t("baseline_wazuh.regex.unbalanced"))
            depth -= 1
            atoms.append(_Atom(")", None))
        else:
            atoms.append(_literal(char, ignore_case))
        i += 1
    if depth:
        raise RegexError(t("baseline_wazuh.regex.unbalanced"))
    return atoms


def _can_be_possessive(atoms: list[_Atom], index: int) -> bool:
    """Whether giving back characters of ``atoms[index]`` could never help the rest match.

    That holds when the repeated class is disjoint from every character the remainder could
    start with (the following optional atoms and the first mandatory one).
    """
    own = atoms[index].charset
    assert own is not None
    for atom in atoms[index + 1 :]:
        if atom.charset is None:
            continue
        if atom.charset.overlaps(own):
            return False
        if atom.quantifier != "*":
            return True
    return True


def _translate_osregex_alternative(alternative: str, ignore_case: bool) -> str:
    begin = alternative.startswith("^")
    if begin:
        alternative = alternative[1:]
    end = False
    if alternative.endswith("$"):
        body = alternative[:-1]
        # "\\$" escapes the dollar only when the backslashes before it are odd in number
        if (len(body) - len(body.rstrip("\\"))) % 2 == 0:
            end = True
            alternative = body
    atoms = _os_tokens(alternative, ignore_case)
    out = ["^" if begin else ""]
    for index, atom in enumerate(atoms):
        out.append(atom.text)
        if atom.quantifier:
            possessive = "+" if _can_be_possessive(atoms, index) else ""
            out.append(atom.quantifier + possessive)
    out.append("$" if end else "")
    return "".join(out)


def _split_unescaped(pattern: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            current.append(pattern[i : i + 2])
            i += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def translate_osregex(pattern: str, ignore_case: bool = True) -> str:
    """The Python equivalent of an OS_Regex pattern (raises RegexError)."""
    alternatives = _split_unescaped(pattern, "|")
    translated = [_translate_osregex_alternative(alt, ignore_case) for alt in alternatives]
    if len(translated) == 1:
        return translated[0]
    return "|".join(f"(?:{alt})" for alt in translated)


def translate_sregex(pattern: str) -> tuple[str, bool]:
    """An OS_Match pattern as (Python pattern, negated): literal text, ``^ $ |`` and ``!``."""
    negated = pattern.startswith("!")
    if negated:
        pattern = pattern[1:]
    alternatives = []
    for alt in pattern.split("|"):
        begin = alt.startswith("^")
        body = alt[1:] if begin else alt
        end = body.endswith("$")
        body = body[:-1] if end else body
        alternatives.append(("^" if begin else "") + re.escape(body) + ("$" if end else ""))
    return "|".join(f"(?:{alt})" for alt in alternatives), negated


_POSIX = {
    "[:alpha:]": "a-zA-Z",
    "[:digit:]": "0-9",
    "[:alnum:]": "a-zA-Z0-9",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:space:]": r"\s",
    "[:blank:]": r" \t",
    "[:xdigit:]": "0-9A-Fa-f",
    "[:word:]": r"\w",
    "[:punct:]": r"!-/:-@\[-`{-~",
}
_INLINE_FLAGS = re.compile(r"\(\?([imsx]+)\)")
_REFUSED = re.compile(r"\\K|\(\?R\)|\(\?[+-]?\d+\)|\(\?&|\(\*[A-Z_]+")


def translate_pcre2(pattern: str) -> str:
    """A PCRE2 pattern in the Python spelling (raises RegexError for unsupported syntax)."""
    if _REFUSED.search(pattern):
        raise RegexError(t("baseline_wazuh.regex.unsupported"))
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            code = pattern[i + 1]
            if code == "Q":
                close = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if close < 0 else pattern[i + 2 : close]
                out.append(re.escape(literal))
                i = len(pattern) if close < 0 else close + 2
                continue
            if code == "h":
                out.append(r" \t" if in_class else r"[ \t]")
            elif code == "H" and not in_class:
                out.append(r"[^ \t]")
            elif code == "z":
                out.append(r"\Z")
            elif code == "e":
                out.append(r"\x1b")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            posix = next((p for p in _POSIX if pattern.startswith(p, i)), None)
            if posix is not None:
                out.append(_POSIX[posix])
                i += len(posix)
                continue
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append(r"\]")
                i += 1
            continue
        elif pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        out.append(char)
        i += 1
    text = "".join(out)
    # PCRE2 accepts "(?i)" anywhere; Python only at the start. Moving it widens its reach.
    flags = "".join(m.group(1) for m in _INLINE_FLAGS.finditer(text) if m.start() > 0)
    if flags:
        text = _INLINE_FLAGS.sub(lambda m: m.group(0) if m.start() == 0 else "", text)
        text = "(?" + "".join(sorted(set(flags))) + ")" + text
    return text


def _strip_leading_any(pattern: str) -> str:
    """``.*X`` finds a match exactly where ``X`` does; dropping it saves a backtracking level."""
    if "|" in pattern:
        return pattern
    changed = True
    while changed:
        changed = False
        for prefix in ("^.*", ".*"):
            rest = pattern[len(prefix) :]
            if pattern.startswith(prefix) and not rest.startswith(("*", "+", "?", "{")):
                pattern = rest
                changed = True
    return pattern


@lru_cache(maxsize=8192)
def _compile(
    engine: Engine, pattern: str, ignore_case: bool, capture: bool
) -> re.Pattern[str] | str:
    try:
        if len(pattern) > MAX_PATTERN:
            raise RegexError(t("baseline_wazuh.regex.too_long", limit=MAX_PATTERN))
        if engine is Engine.OSREGEX:
            python = translate_osregex(pattern, ignore_case)
        else:
            python = translate_pcre2(pattern)
        if not capture:
            python = _strip_leading_any(python)
        check_safe(python)
        flags = re.ASCII | (re.IGNORECASE if ignore_case else 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(python, flags)
    except RegexError as error:
        return error.reason
    except HelperFailure as failure:
        return failure.detail
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        return t("baseline_wazuh.regex.invalid", reason=str(error))


def compile_pattern(
    engine: Engine, pattern: str, *, ignore_case: bool, capture: bool = False
) -> re.Pattern[str]:
    """A compiled, guarded pattern; ``capture`` keeps it whole for ``n:`` capture groups.

    Raises RegexError with a translated reason when the pattern is invalid or unsafe.
    """
    compiled = _compile(engine, pattern, ignore_case, capture)
    if isinstance(compiled, str):
        raise RegexError(compiled)
    return compiled


@lru_cache(maxsize=4096)
def _compile_sregex(pattern: str, ignore_case: bool) -> tuple[re.Pattern[str], bool]:
    python, negated = translate_sregex(pattern)
    return re.compile(python, re.IGNORECASE if ignore_case else 0), negated


def sregex_matches(pattern: str, text: str, *, ignore_case: bool) -> bool:
    """Whether OS_Match text (``^ $ |`` and a leading ``!``) matches ``text``."""
    compiled, negated = _compile_sregex(pattern, ignore_case)
    return (compiled.search(text) is not None) != negated


def subject_pieces(line: str) -> list[str]:
    """A line cut into pieces of at most :data:`MAX_LINE` characters, as the agent reads it."""
    if len(line) <= MAX_LINE:
        return [line]
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)]
