"""CRLF injection (HTTP response splitting): a parameter written into a response header
(``Location``, ``Set-Cookie``, ``Content-Disposition`` …) without removing CR and LF
lets the input add headers of its own.

1. A canary appended to the value. Only when it shows up in a response *header* (the
   value is written into one) does the check go on — for most parameters this one
   request is all.
2. ``X-Sb-Canary: <canary>`` after, in order, stopping at the first proof:
   ``\\r\\n`` (``%0D%0A`` on the wire); ``\\n`` alone (``%0A``: many servers split on LF);
   ``嘍嘊`` (U+560D U+560A, ``%E5%98%8D%E5%98%8A``: servers that cut characters to their
   low byte write CR LF); and the literal text ``%0d%0a`` (encoded once more on the
   wire, for applications that decode twice).

Proof: the *parsed* response headers contain ``X-Sb-Canary`` with the canary — text in
the body never counts. Query, form, JSON and path parameters only: a CR/LF in a cookie or
request header would split the scanner's own request.

Requests per parameter: 1 when the value is not written into a header, at most 5.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from shaobing.web.checks import _inject
from shaobing.web.checks.base import PointCheck, Probe, canary, register
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from shaobing.web.request import Location

HEADER = "X-Sb-Canary"
BREAKS: tuple[tuple[str, str], ...] = (
    ("\r\n", "%0D%0A"),
    ("\n", "%0A"),
    ("\u560d\u560a", "%E5%98%8D%E5%98%8A"),
    ("%0d%0a", "%250d%250a"),
)


def injected(response: WebResponse, marker: str) -> str | None:
    """The value of the injected header when ``response`` has it with ``marker``."""
    for value in response.header_values(HEADER):
        if marker in value:
            return value
    return None


def header_with(response: WebResponse, marker: str) -> str | None:
    """The name of a response header whose value contains ``marker``."""
    return next((name for name, value in response.headers if marker in value), None)


class CrlfInjection(PointCheck):
    """CRLF injection proved by an injected response header."""

    id: ClassVar[str] = "web.crlf"
    kinds: ClassVar[tuple[str, ...]] = ("crlf",)

    def applies(self, probe: Probe) -> bool:
        """Not cookies or request headers (see the module docstring)."""
        return probe.point.location not in (Location.COOKIE, Location.HEADER)

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        marker = canary()
        first = _inject.send(probe, marker, append=True)
        if first is None:
            return
        carrier = header_with(first, marker)
        if carrier is None:
            return
        for line_break, wire in BREAKS:
            marker = canary()
            payload = f"{line_break}{HEADER}: {marker}"
            response = _inject.send(probe, payload, append=True)
            if response is None:
                continue
            value = injected(response, marker)
            if value is not None:
                shown = f"{wire}{HEADER}: {marker}"
                yield probe.issue(
                    "crlf",
                    f"{_inject.describe(probe.point)} 的值被写入响应头 {carrier}；追加 {shown} "
                    f"后，响应中出现了注入的响应头 {HEADER}: {value}。",
                    response,
                    payload=shown,
                    carrier=carrier,
                )
                return


register(CrlfInjection())
