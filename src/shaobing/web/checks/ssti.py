"""Server-side template injection: the input becomes part of a template's source.

Every expression multiplies two random 5-digit numbers; the 9- or 10-digit product
appears only when a template engine evaluated it — a page that echoes ``{{7*7}}`` (or our
payload) literally never shows it, and no payload text contains it. Each syntax family
gets its own numbers, so the product that shows up names the syntax that ran.

* Screen 1 — the common syntaxes, harmless to each other: ``{{a*b}}`` (Jinja2, Twig,
  Nunjucks, Tornado), ``${a*b}`` (FreeMarker, Mako, JSP/Spring EL), ``<%= a*b %>`` (ERB,
  EJS), ``#{a*b}`` (Ruby Slim/Haml, Pug, JSF EL).
* Screen 2, only when screen 1 showed nothing: ``{{= a*b}}`` (doT, jsRender), ``*{a*b}``
  and ``[[${a*b}]]`` (Thymeleaf), ``#set($v=a*b)$v`` (Velocity), ``{a*b}`` (Smarty).
* A screen that breaks the page (a 5xx where the baseline was fine, or a template
  engine's error text) means one of its syntaxes was parsed: its expressions are then
  sent one at a time until one evaluates.
* When ``{{…}}`` evaluated, one more request tells a Python engine (Jinja2, Tornado:
  ``'x'*3`` repeats the string) from the others (Twig, Nunjucks) for the engine guess.

Requests per parameter: 2 when nothing is found (1 when screen 1 proves); when a screen
errors, the baseline (usually already fetched for another check) and up to 5 singles;
1 more for the engine guess.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from shaobing.web.checks import _inject
from shaobing.web.checks.base import PointCheck, Probe, canary, register
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue

# Operands: 5-digit numbers (the product has 9–10 digits; a reflected operand has 5).
LOW, HIGH = 10_000, 99_999
_ERRORS = re.compile(
    r"TemplateSyntaxError|jinja2\.exceptions|UndefinedError|Twig[_\\]Error|"
    r"freemarker\.(?:core|template)|FreeMarker template error|org\.thymeleaf|"
    r"TemplateInputException|SpelEvaluationException|SmartyCompilerException|Smarty error|"
    r"org\.apache\.velocity|VelocityException|ActionView::Template::Error|"
    r"mako\.exceptions|Liquid (?:syntax )?error|Template render error|ejs:\d+"
)


@dataclass(frozen=True)
class Syntax:
    """One expression syntax: how to write ``a*b`` in it, and the engines that use it."""

    name: str
    write: Callable[[int, int], str]
    engines: str


SCREEN_1 = (
    Syntax("{{…}}", lambda a, b: f"{{{{{a}*{b}}}}}", "Jinja2 / Twig / Nunjucks / Tornado 等"),
    Syntax("${…}", lambda a, b: f"${{{a}*{b}}}", "FreeMarker / Mako / JSP EL / Spring EL 等"),
    Syntax("<%= … %>", lambda a, b: f"<%= {a}*{b} %>", "ERB（Ruby）/ EJS 等"),
    Syntax("#{…}", lambda a, b: f"#{{{a}*{b}}}", "Slim / Haml（Ruby）/ Pug / JSF EL 等"),
)
SCREEN_2 = (
    Syntax("{{= …}}", lambda a, b: f"{{{{= {a}*{b}}}}}", "doT / jsRender 等"),
    Syntax("*{…}", lambda a, b: f"*{{{a}*{b}}}", "Thymeleaf"),
    Syntax("[[${…}]]", lambda a, b: f"[[${{{a}*{b}}}]]", "Thymeleaf（内联表达式）"),
    Syntax("#set", lambda a, b: f"#set($sbv={a}*{b})$sbv", "Velocity"),
    Syntax("{…}", lambda a, b: f"{{{a}*{b}}}", "Smarty"),
)


@dataclass(frozen=True)
class Expression:
    """One syntax with its operands."""

    syntax: Syntax
    a: int
    b: int

    @property
    def text(self) -> str:
        """The expression as sent."""
        return self.syntax.write(self.a, self.b)

    @property
    def product(self) -> str:
        """The evaluated result."""
        return str(self.a * self.b)

    def evaluated(self, text: str) -> bool:
        """Whether ``text`` holds the product as a whole number."""
        return re.search(rf"(?<!\d){self.product}(?!\d)", text) is not None


def _operand() -> int:
    return LOW + secrets.randbelow(HIGH - LOW + 1)


def _expressions(screen: tuple[Syntax, ...]) -> list[Expression]:
    return [Expression(s, _operand(), _operand()) for s in screen]


def _single_braces(hit: Expression, text: str) -> bool:
    """Whether only the inner ``{a*b}`` of the expression was evaluated (what is left of
    the syntax still surrounds the product: ``$123…`` from ``${…}``) — a single-brace
    engine such as Smarty, not the syntax's own family."""
    core = f"{{{hit.a}*{hit.b}}}"
    written = hit.text
    if core not in written or written == core:
        return False
    before, _, after = written.partition(core)
    return before + hit.product + after in text


def _suspicious(response: WebResponse) -> bool:
    """A server error or a template engine's error text (to be compared with the baseline)."""
    return response.status >= 500 or _ERRORS.search(response.text) is not None


def _broke(response: WebResponse, before: WebResponse | None) -> bool:
    """Whether the response shows that a template parser choked on the payload."""
    if response.status >= 500 and (before is None or before.status < 500):
        return True
    return _ERRORS.search(response.text) is not None and (
        before is None or _ERRORS.search(before.text) is None
    )


class TemplateInjection(PointCheck):
    """SSTI proved by an evaluated product of random numbers."""

    id: ClassVar[str] = "web.ssti"
    kinds: ClassVar[tuple[str, ...]] = ("ssti",)

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        before: WebResponse | None = None
        for screen in (SCREEN_1, SCREEN_2):
            expressions = _expressions(screen)
            payload = "".join(e.text for e in expressions)
            response = _inject.send(probe, payload)
            if response is None:
                continue
            hit = _first_evaluated(expressions, response, before)
            if hit is not None:
                yield self._issue(probe, hit, response)
                return
            if not _suspicious(response):
                continue
            # Only now is the baseline needed: was the page broken before the payload?
            before = before or _inject.baseline(probe)
            if not _broke(response, before):
                continue
            for expression in _expressions(screen):
                single = _inject.send(probe, expression.text)
                if single is not None and _first_evaluated([expression], single, before):
                    yield self._issue(probe, expression, single)
                    return

    def _issue(self, probe: Probe, hit: Expression, response: WebResponse) -> WebIssue:
        engines = hit.syntax.engines
        if _single_braces(hit, response.text):
            engines = "Smarty 等（单花括号语法）"
        elif hit.syntax is SCREEN_1[0]:
            engines = _python_or_not(probe)
        return probe.issue(
            "ssti",
            f"{_inject.describe(probe.point)} 注入模板表达式 {hit.text} 后，响应中出现了计算"
            f"结果 {hit.product}（{hit.a}×{hit.b}），表达式在服务端被模板引擎执行；"
            f"疑似模板引擎：{engines}。",
            response,
            payload=hit.text,
            syntax=hit.syntax.name,
            engine_guess=engines,
        )


def _first_evaluated(
    expressions: list[Expression], response: WebResponse, before: WebResponse | None
) -> Expression | None:
    for expression in expressions:
        if expression.evaluated(response.text) and (
            before is None or not expression.evaluated(before.text)
        ):
            return expression
    return None


def _python_or_not(probe: Probe) -> str:
    """Jinja2/Tornado (Python: a string times 3 repeats it) or Twig/Nunjucks (1 request)."""
    word = canary()
    response = _inject.send(probe, f"{{{{'{word}'*3}}}}")
    if response is not None and word * 3 in response.text:
        return "Jinja2 / Tornado（Python）"
    return "Twig / Nunjucks 等（非 Python 模板引擎）"


register(TemplateInjection())
