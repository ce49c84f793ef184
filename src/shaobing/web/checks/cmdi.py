"""OS command injection: the parameter is pasted into a shell command line.

Payloads are appended to the original value (``127.0.0.1;echo …``), so the command the
application meant to run still gets a valid argument.

1. Echo (output shown in the page). ``echo A''B`` with A, B fresh canary halves: the
   shell removes the empty quotes, so the response holds ``AB`` — which no payload text
   contains (it has ``A''B``), so a page that echoes the input never matches. Separators:
   ``;``, ``|`` (also runs where ``;`` is filtered and under cmd.exe), ``$( )`` (works
   inside double quotes too), a newline (``%0a``: filters on ``;|&`` miss it), and for
   cmd.exe ``&echo A^B&`` (``^`` is cmd's escape: the output is ``AB``; a Unix shell
   prints ``A^B``). ``&&``/``||`` and backticks are left out: wherever they work, one of
   these works too.
2. Time (blind), only when no echo payload proved anything: ``;sleep N;``, ``$(sleep N)``,
   a newline + ``sleep N``, and ``&ping -n N+1 127.0.0.1&`` for cmd.exe (a loopback ping
   takes N seconds; nothing leaves the target). Like the SQL time check: the normal
   latency bound comes from :meth:`Probe.latency_bound`; a form counts only when N = d
   delays by at least d, the same form with N = 0 is fast, and N = 2d delays by at least
   2d and more than N = d did — the delay follows the number injected. When N = 0 is slow
   too, something stalls suspicious input and the time test of the parameter ends.

Requests per parameter: 5 echo + 2 extra baseline samples + 4 time = at most 11 when
nothing is found (plus the shared baseline); a time form that proves costs 2 more.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterator
from typing import ClassVar

from shaobing.web.checks import _inject
from shaobing.web.checks._support import PROBE_ERRORS, option
from shaobing.web.checks.base import PointCheck, Probe, canary, register
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue

# Seconds of the first injected delay (organisation-defined default, policy option
# "time_delay"; the second is twice as long).
DEFAULT_DELAY = 2
# Longest first delay tried: a target whose normal latency needs more is too slow to
# measure reliably (organisation-defined).
MAX_DELAY = 10
# Seconds allowed beyond the expected delay before a request counts as failed.
TIMEOUT_MARGIN = 5.0
# Baseline requests behind the latency bound (as the SQL time check).
TIMING_SAMPLES = 3

ECHO_FORMS: tuple[tuple[str, Callable[[str, str], str]], ...] = (
    (";", lambda a, b: f";echo {a}''{b};"),
    ("|", lambda a, b: f"|echo {a}''{b}"),
    ("$()", lambda a, b: f"$(echo {a}''{b})"),
    ("换行符", lambda a, b: f"\necho {a}''{b}\n"),
    ("&（Windows）", lambda a, b: f"&echo {a}^{b}&"),
)
TIME_FORMS: tuple[tuple[str, Callable[[int], str]], ...] = (
    (";", lambda n: f";sleep {n};"),
    ("$()", lambda n: f"$(sleep {n})"),
    ("换行符", lambda n: f"\nsleep {n}\n"),
    ("&（Windows）", lambda n: f"&ping -n {n + 1} 127.0.0.1&"),
)


def _shown(payload: str) -> str:
    return payload.replace("\n", "%0a")


class CommandInjection(PointCheck):
    """Command injection proved by joined echo output or a tracking delay."""

    id: ClassVar[str] = "web.cmd-injection"
    kinds: ClassVar[tuple[str, ...]] = ("cmd-injection",)

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        issue = self._echo(probe) or self._time(probe)
        if issue is not None:
            yield issue

    def _echo(self, probe: Probe) -> WebIssue | None:
        for label, form in ECHO_FORMS:
            # The second half: 10 hex digits, unguessable like a canary.
            first, second = canary(), secrets.token_hex(5)
            payload = form(first, second)
            response = _inject.send(probe, payload, append=True)
            if response is not None and first + second in response.text:
                return probe.issue(
                    "cmd-injection",
                    f"{_inject.describe(probe.point)} 追加 {_shown(payload)}（{label} 分隔）后，"
                    f"响应中出现了命令输出的拼接结果 {first}{second}，注入的命令已执行。",
                    response,
                    payload=_shown(payload),
                    technique="echo",
                )
        return None

    def _time(self, probe: Probe) -> WebIssue | None:
        try:
            bound = probe.latency_bound(TIMING_SAMPLES)
        except PROBE_ERRORS:
            return None  # no reliable latency baseline: nothing can be measured against it
        wanted = option(probe.state, self.id, "time_delay", DEFAULT_DELAY, 1, MAX_DELAY)
        # At least half a second above the slowest normal answer (organisation-defined
        # margin), in whole seconds: sleep and ping take integers everywhere.
        first = max(wanted, math.ceil(bound + 0.5))
        if first > MAX_DELAY:
            return None
        second = 2 * first
        for label, form in TIME_FORMS:
            slow = self._timed(probe, form(first), first, bound)
            if slow is None or slow.duration < first:
                continue
            quick = self._timed(probe, form(0), 0, bound)
            # N = 0 must stay within normal latency plus half the delay (organisation-
            # defined tolerance for jitter).
            if quick is None or quick.duration >= bound + first / 2:
                # Slow without any delay asked for: something stalls suspicious input (a
                # filter, a tarpit) and no timing can prove anything on this parameter.
                return None
            slower = self._timed(probe, form(second), second, bound)
            if slower is None or slower.duration < second:
                continue
            # Doubling N must add at least half the extra delay (organisation-defined).
            if slower.duration - slow.duration < (second - first) / 2:
                continue
            return probe.issue(
                "cmd-injection",
                f"{_inject.describe(probe.point)} 追加 {_shown(form(first))} 与 "
                f"{_shown(form(second))}（{label} 分隔）后，响应分别耗时 "
                f"{slow.duration:.1f} 秒与 {slower.duration:.1f} 秒，延时为 0 时 "
                f"{quick.duration:.1f} 秒，正常响应不超过 {bound:.1f} 秒：响应时间随注入的"
                "延时变化，注入的命令已执行。",
                slower,
                payload=_shown(form(second)),
                technique="time",
                delays=[first, second],
                durations=[
                    round(quick.duration, 3),
                    round(slow.duration, 3),
                    round(slower.duration, 3),
                ],
            )
        return None

    @staticmethod
    def _timed(probe: Probe, payload: str, delay: int, bound: float) -> WebResponse | None:
        return _inject.send(probe, payload, append=True, timeout=delay + bound + TIMEOUT_MARGIN)


register(CommandInjection())
