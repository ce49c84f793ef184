"""Reading settings out of configuration files the way the programs themselves do.

Each syntax turns files into :class:`Entry` records (key, value, where it was found),
following the program's include directives: sshd ``Include``, my.cnf ``!include``/
``!includedir``, PostgreSQL ``include``/``include_dir``, nginx ``include``, Apache
``Include``/``IncludeOptional``. Includes are resolved through the collector, so offline
trees and SSH targets behave like the local host.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Include chains deeper than this, or more files than this, are cut off (loops, fan-out).
MAX_INCLUDE_DEPTH = 10
MAX_FILES = 500
# The first word of a "key value" / "key = value" line, and the rest after an optional "=".
_HEAD = re.compile(r"^([^\s=]+)\s*=?\s*(.*)$")

Reader = Callable[[str], Awaitable[str | None]]
Globber = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True)
class Entry:
    """One setting as written in a file."""

    key: str
    value: str
    file: str
    line: int
    text: str
    #: ini section, nginx/apache block path ("http > server"), "" at top level
    section: str = ""

    def where(self) -> str:
        """``file:line: text`` for the observed value."""
        return f"{self.file}:{self.line}: {self.text.strip()}"


def unquote(value: str) -> str:
    """Strip one level of matching quotes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _strip_inline_comment(value: str, leaders: str = "#") -> str:
    # A comment leader after whitespace, outside quotes, ends the value (postgresql.conf,
    # my.cnf, sysctl.conf allow trailing comments; sshd_config does not, and its values
    # never contain " #").
    quote = ""
    for index, ch in enumerate(value):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in leaders and (index == 0 or value[index - 1] in " \t"):
            return value[:index].rstrip()
    return value


class _Walker:
    """Shared include bookkeeping for one parse."""

    def __init__(self, read: Reader, glob: Globber) -> None:
        self.read = read
        self.glob = glob
        self.seen: set[str] = set()
        self.entries: list[Entry] = []

    async def files(self, pattern: str, base: str) -> list[str]:
        path = pattern if pattern.startswith("/") else posixpath.join(base, pattern)
        return await self.glob(path)

    def room(self, path: str, depth: int) -> bool:
        if depth > MAX_INCLUDE_DEPTH or len(self.seen) >= MAX_FILES or path in self.seen:
            return False
        self.seen.add(path)
        return True


async def parse_space(
    paths: list[str], read: Reader, glob: Globber, include: str | None, sep: str = " "
) -> list[Entry]:
    """``Key value`` (sep " ") or ``key: value`` (sep ":") files; sshd's Match ends a file."""
    walker = _Walker(read, glob)
    includes = {i.lower() for i in include.split("|")} if include else set()

    async def walk(path: str, depth: int) -> None:
        if not walker.room(path, depth):
            return
        text = await read(path)
        if text is None:
            return
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if sep == ":":
                key, _, value = line.partition(":")
            else:
                splitter = r"[ \t=]+" if "=" in line.split()[0] else r"[ \t]+"
                parts = re.split(splitter, line, maxsplit=1)
                key, value = parts[0], parts[1] if len(parts) > 1 else ""
            key = key.strip()
            value = value.strip()
            if key.lower() == "match":
                # sshd: the rest of this file is conditional, never the global setting; a
                # Match block in an included file ends with that file (sshd -T agrees), so
                # the including file goes on after its Include line
                return
            if key.lower() in includes:
                for pattern in value.split():
                    base = posixpath.dirname(paths[0])
                    for item in await walker.files(unquote(pattern), base):
                        await walk(item, depth + 1)
                continue
            walker.entries.append(Entry(key, unquote(value), path, number, raw))

    for path in paths:
        await walk(path, 0)
    return walker.entries


async def parse_equals(
    paths: list[str], read: Reader, glob: Globber, include: str | None
) -> list[Entry]:
    """``key = value`` files (sysctl.conf, pwquality.conf, postgresql.conf, faillock.conf)."""
    walker = _Walker(read, glob)
    includes = {i.lower() for i in include.split("|")} if include else set()

    async def walk(path: str, depth: int) -> None:
        if not walker.room(path, depth):
            return
        text = await read(path)
        if text is None:
            return
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            # PostgreSQL accepts "include 'f'", "include = 'f'" and "include='f'"
            head_match = _HEAD.match(line)
            head = head_match.group(1).lower() if head_match else ""
            if head_match and head in includes:
                target = unquote(_strip_inline_comment(head_match.group(2)))
                base = posixpath.dirname(path)
                if head == "include_dir":
                    found = await walker.files(posixpath.join(target, "*.conf"), base)
                else:
                    found = await walker.files(target, base)
                for item in found:
                    await walk(item, depth + 1)
                continue
            if "=" in line:
                key, _, value = line.partition("=")
            else:
                parts = line.split(None, 1)
                key, value = parts[0], parts[1] if len(parts) > 1 else ""
            value = unquote(_strip_inline_comment(value.strip()))
            walker.entries.append(Entry(key.strip(), value, path, number, raw))

    for path in paths:
        await walk(path, 0)
    return walker.entries


async def parse_ini(paths: list[str], read: Reader, glob: Globber) -> list[Entry]:
    """INI files with ``[section]`` (my.cnf with ``!include``/``!includedir``)."""
    walker = _Walker(read, glob)

    async def walk(path: str, depth: int) -> None:
        if not walker.room(path, depth):
            return
        text = await read(path)
        if text is None:
            return
        section = ""
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("!includedir"):
                folder = line[len("!includedir") :].strip()
                for item in await walker.files(posixpath.join(folder, "*.cnf"), "/"):
                    await walk(item, depth + 1)
                continue
            if line.startswith("!include"):
                for item in await walker.files(line[len("!include") :].strip(), "/"):
                    await walk(item, depth + 1)
                continue
            if line.startswith("[") and "]" in line:
                section = line[1 : line.index("]")].strip().lower()
                continue
            key, sep, value = line.partition("=")
            value = unquote(_strip_inline_comment(value.strip(), "#;")) if sep else ""
            walker.entries.append(
                Entry(key.strip().replace("-", "_"), value, path, number, raw, section)
            )

    for path in paths:
        await walk(path, 0)
    return walker.entries


_NGINX_TOKEN = re.compile(
    r"""(#[^\n]*)|("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|([{};])|([^\s{};"'#]+)"""
)
_BRACES = frozenset("{};")


def _nginx_tokens(text: str) -> list[tuple[str, int, bool]]:
    """(token, line number, quoted) with comments dropped."""
    out: list[tuple[str, int, bool]] = []
    line = 1
    last = 0
    for match in _NGINX_TOKEN.finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        if match.group(1):
            continue
        if match.group(2):
            out.append((match.group(2)[1:-1], line, True))
        else:
            out.append((match.group(3) or match.group(4), line, False))
    return out


async def parse_nginx(paths: list[str], read: Reader, glob: Globber) -> list[Entry]:
    """nginx configuration: directives with their block path, includes relative to the conf dir."""
    walker = _Walker(read, glob)
    conf_dir = posixpath.dirname(paths[0]) if paths else "/etc/nginx"

    async def walk(path: str, depth: int, stack: list[str]) -> None:
        if not walker.room(path, depth):
            return
        text = await read(path)
        if text is None:
            return
        lines = text.splitlines()
        words: list[str] = []
        first_line = 0
        local = list(stack)
        for word, number, quoted in _nginx_tokens(text):
            if not quoted and word in _BRACES:
                if word == "{":
                    local.append(" ".join(words))
                    words = []
                elif word == "}":
                    if local:
                        local.pop()
                    words = []
                else:
                    if words:
                        key, args = words[0], words[1:]
                        if key == "include":
                            for pattern in args:
                                for item in await walker.files(pattern, conf_dir):
                                    await walk(item, depth + 1, local)
                        else:
                            raw = lines[first_line - 1] if 0 < first_line <= len(lines) else key
                            walker.entries.append(
                                Entry(key, " ".join(args), path, first_line, raw, " > ".join(local))
                            )
                    words = []
                continue
            if not words:
                first_line = number
            words.append(word)

    for path in paths:
        await walk(path, 0, [])
    return walker.entries


def _directive(line: str) -> tuple[str, str]:
    """(name, arguments) of an Apache directive or section header."""
    parts = line.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


async def parse_apache(paths: list[str], read: Reader, glob: Globber) -> list[Entry]:
    """Apache httpd configuration: directives with their <Section> path, Include resolved."""
    walker = _Walker(read, glob)
    main = paths[0] if paths else "/etc/apache2/apache2.conf"
    # Debian: /etc/apache2/apache2.conf → /etc/apache2;
    # RHEL: /etc/httpd/conf/httpd.conf → /etc/httpd
    root = posixpath.dirname(main)
    if posixpath.basename(root) == "conf":
        root = posixpath.dirname(root)
    server_root = [root]

    async def walk(path: str, depth: int, stack: list[str]) -> None:
        if not walker.room(path, depth):
            return
        text = await read(path)
        if text is None:
            return
        pending = ""
        start = 0
        for number, raw in enumerate(text.splitlines(), 1):
            if not pending:
                start = number
            line = raw.strip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = (pending + line).strip()
            pending = ""
            if not line or line.startswith("#"):
                continue
            if line.startswith("</"):
                if stack:
                    stack.pop()
                continue
            if line.startswith("<") and line.endswith(">"):
                name, arg = _directive(line[1:-1])
                stack.append(f"{name} {unquote(arg)}".strip())
                continue
            # directive and arguments are separated by any whitespace (tabs are common)
            key, value = _directive(line)
            if key.lower() == "serverroot":
                server_root[0] = unquote(value)
            if key.lower() in {"include", "includeoptional"}:
                for item in await walker.files(unquote(value), server_root[0]):
                    await walk(item, depth + 1, stack)
                continue
            walker.entries.append(Entry(key, value, path, start, raw, " > ".join(stack)))

    for path in paths:
        await walk(path, 0, [])
    return walker.entries
