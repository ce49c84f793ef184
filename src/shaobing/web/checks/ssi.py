"""Server-side include (SSI) injection: the input lands in a page the web server parses
for ``<!--#…-->`` directives (Apache mod_include, IIS, nginx, lighttpd).

ONE request per parameter, with two directives whose *evaluated* output cannot come from
the payload text:

* ``P<!--#echo var="DATE_LOCAL" -->S`` (P, S: fresh short canaries). Evaluated, the directive
  is replaced by the server's date, so P, a date and S follow each other; a reflection
  keeps the directive between them (with ``<`` or ``&lt;``), a filter that strips
  comments leaves nothing between them — neither has a date there. ``echo`` works even
  where ``exec`` is disabled (IncludesNOEXEC).
* ``<!--#exec cmd="echo A''B" -->`` (A, B: random halves). The shell removes the empty
  quotes, so the output holds ``AB``, which the payload does not contain (it has
  ``A''B``): proof that commands run.

Requests per parameter: 1.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import ClassVar

from shaobing.web.checks import _inject
from shaobing.web.checks.base import PointCheck, Probe, canary, register
from shaobing.web.issues import WebIssue

# Longest text an echoed date may take between the two canaries (the longest SSI date
# formats are ~40 characters; organisation-defined margin).
MAX_ECHO = 100
# Characters of the short canaries (see _short).
SHORT = 8
_DIGIT = re.compile(r"\d")


def payload(prefix: str, suffix: str, first: str, second: str) -> str:
    """The SSI payload (see the module docstring): about 87 characters, so that fields with
    a 100-character limit store it whole (a cut-off directive would leave a comment open
    and hide the rest of the page)."""
    echo = f'{prefix}<!--#echo var="DATE_LOCAL" -->{suffix}'
    return echo + f"<!--#exec cmd=\"echo {first}''{second}\" -->"


def _short() -> str:
    """A short canary: ``sb`` and 6 random letters or digits (36⁶ ≈ 2·10⁹ values)."""
    return canary()[:SHORT]


def echoed(text: str, prefix: str, suffix: str) -> str | None:
    """What stands between ``prefix`` and ``suffix`` when it looks like an evaluated
    ``echo`` (no markup or entity characters, a digit, at most :data:`MAX_ECHO` long)."""
    pattern = re.escape(prefix) + rf"([^<>&\"'#=]{{1,{MAX_ECHO}}}?)" + re.escape(suffix)
    for match in re.finditer(pattern, text):
        middle = match.group(1)
        if _DIGIT.search(middle) and "echo" not in middle.lower():
            return middle.strip()
    return None


class SsiInjection(PointCheck):
    """SSI injection proved by evaluated directives."""

    id: ClassVar[str] = "web.ssi"
    kinds: ClassVar[tuple[str, ...]] = ("ssi",)

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        prefix, suffix, first = _short(), _short(), _short()
        # The second half: 6 hex digits (16⁶ ≈ 1.7·10⁷), joined to a random first half.
        second = secrets.token_hex(3)
        sent = payload(prefix, suffix, first, second)
        response = _inject.send(probe, sent)
        if response is None:
            return
        where = _inject.describe(probe.point)
        if first + second in response.text:
            yield probe.issue(
                "ssi",
                f"{where} 中注入的 SSI 指令被服务器执行：<!--#exec cmd=\"echo {first}''{second}\" "
                f"--> 输出了拼接结果 {first}{second}，可在服务器上执行系统命令。",
                response,
                payload=sent,
                technique="exec",
            )
            return
        middle = echoed(response.text, prefix, suffix)
        if middle is not None:
            yield probe.issue(
                "ssi",
                f'{where} 中注入的 SSI 指令被服务器解析：<!--#echo var="DATE_LOCAL" --> '
                f"被替换为服务器时间“{middle}”。",
                response,
                payload=sent,
                technique="echo",
            )


register(SsiInjection())
