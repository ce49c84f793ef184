"""Configuration edits for hardening, computed in memory so the plan can show exact diffs.

Each edit is idempotent: applying it to an already hardened file changes nothing. Values
are set the way an administrator would: the first active line is rewritten in place,
later active duplicates are commented out (first-wins programs like sshd would otherwise
keep an older value), a commented example line is reused when there is no active one, and
only otherwise a new line is inserted (before ``before``, e.g. sshd's first ``Match``).
"""

from __future__ import annotations

import difflib
import re

from shaobing.baseline.model import Edit

COMMENT = "# "


def _setting_line(key: str, value: str, syntax: str) -> str:
    if syntax == "equals":
        return f"{key} = {value}"
    if syntax == "colon":
        return f"{key}: {value}"
    if syntax == "ini":
        return f"{key} = {value}" if value != "" else key
    if syntax == "nginx":
        return f"{key} {value};".replace(" ;", ";")
    return f"{key} {value}".rstrip()


def _limit(lines: list[str], before: str | None) -> int:
    """Index of the first line matching ``before`` (settings after it are conditional)."""
    if before:
        pattern = re.compile(before)
        for index, line in enumerate(lines):
            if pattern.search(line):
                return index
    return len(lines)


def _section_bounds(lines: list[str], section: str | None) -> tuple[int, int] | None:
    if section is None:
        return 0, len(lines)
    names = {s.strip().lower() for s in section.split("|")}
    start = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            name = stripped[1 : stripped.index("]")].strip().lower()
            if start is not None:
                return start, index
            if name in names:
                start = index + 1
    if start is not None:
        return start, len(lines)
    return None


def apply_set(text: str, edit: Edit) -> str:
    """Set a key to a value (syntax-aware)."""
    assert edit.set is not None
    key = str(edit.set["key"])
    value = str(edit.set.get("value", ""))
    section = edit.set.get("section")
    line = _setting_line(key, value, edit.syntax)
    lines = text.splitlines()
    # sshd also accepts "Key=value", so "=" ends the key in the space syntax as well
    sep = r"(\s|=|:|$)" if edit.syntax != "space" else r"(\s|=|$)"
    if edit.syntax == "ini":
        key_re = "".join("[-_]" if ch in "-_" else re.escape(ch) for ch in key)
    else:
        key_re = re.escape(key)
    active = re.compile(rf"^\s*{key_re}\s*{sep}", re.IGNORECASE)
    # a commented *example* of the setting ("#PermitRootLogin yes", "# deny = 3"), not prose
    # that happens to start with the word ("# Deny access if ..."): same case, and shaped
    # like a setting of this syntax
    if edit.syntax in {"equals", "ini"}:
        example = rf"^\s*[#;]\s*{key_re}\s*=\s*\S*\s*$"
    elif edit.syntax == "colon":
        example = rf"^\s*[#;]\s*{key_re}\s*:"
    else:
        example = rf"^\s*#\s*{key_re}(\s+\S+){{0,3}}\s*;?\s*$"
    commented = re.compile(example)
    bounds = _section_bounds(lines, str(section) if section else None)
    if bounds is None:
        # the section does not exist yet: add it at the end
        tail = ["", f"[{str(section).split('|')[0]}]", line]
        return "\n".join([*lines, *tail]).lstrip("\n") + "\n"
    start, end = bounds
    end = min(end, _limit(lines, edit.before)) if edit.before else end
    first_active = next((i for i in range(start, end) if active.match(lines[i])), None)
    if first_active is not None:
        lines[first_active] = line
        for i in range(first_active + 1, end):
            if active.match(lines[i]):
                lines[i] = COMMENT + lines[i]
    else:
        first_comment = next((i for i in range(start, end) if commented.match(lines[i])), None)
        if first_comment is not None:
            lines.insert(first_comment + 1, line)
        elif end < len(lines):
            lines.insert(end, line)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _commented(line: str) -> bool:
    return line.lstrip().startswith(("#", ";"))


def apply_line(text: str, edit: Edit) -> str:
    """Ensure an exact line, replacing lines that match ``replace``."""
    assert edit.line is not None
    lines = text.splitlines()
    present = any(existing.rstrip() == edit.line for existing in lines)
    if edit.replace:
        pattern = re.compile(edit.replace)
        hits = [i for i, existing in enumerate(lines) if pattern.search(existing)]
        # ``replace`` may match commented examples (to reuse them); once the line is there,
        # only other active matches are commented out, so a second run changes nothing
        if hits and not present:
            lines[hits[0]] = edit.line
        for i in hits:
            if lines[i].rstrip() != edit.line and not _commented(lines[i]):
                lines[i] = COMMENT + lines[i]
        if hits:
            return "\n".join(lines) + "\n"
    if present:
        return text if text.endswith("\n") or not text else text + "\n"
    limit = _limit(lines, edit.before)
    if limit < len(lines):
        lines.insert(limit, edit.line)
    else:
        lines.append(edit.line)
    return "\n".join(lines) + "\n"


def apply_comment_out(text: str, edit: Edit) -> str:
    """Comment out lines matching ``comment_out``."""
    assert edit.comment_out is not None
    pattern = re.compile(edit.comment_out)
    out = []
    for line in text.splitlines():
        if pattern.search(line) and not line.lstrip().startswith("#"):
            out.append(COMMENT + line)
        else:
            out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def apply_edit(text: str, edit: Edit) -> str:
    """The file's text after one edit (mode/owner changes are handled by the caller)."""
    if edit.set is not None:
        text = apply_set(text, edit)
    if edit.line is not None:
        text = apply_line(text, edit)
    if edit.comment_out is not None:
        text = apply_comment_out(text, edit)
    return text


def unified_diff(path: str, before: str | None, after: str) -> str:
    """A unified diff of one file (``/dev/null`` for new files)."""
    old = (before or "").splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            old,
            new,
            fromfile=path if before is not None else "/dev/null",
            tofile=path,
            n=2,
        )
    )
