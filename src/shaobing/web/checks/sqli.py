"""SQL injection (requirement B7): error-based, boolean-based and time-based, in few requests.

The three techniques run in that order and stop at the first proof; every payload is
appended to the parameter's original value (its context is kept) and is built from the
data file ``web/data/sqli.yaml`` (error signatures, payload families, detail texts).

* **Error-based** — one request with a quote-imbalance payload (``'"`` breaks numeric,
  single- and double-quoted contexts at once). A DBMS error signature that the baseline
  does not show makes the parameter a candidate; a *balanced* payload of the same quotes
  (``' AND 'w'='w``) must then show no error at all. Pages that always show an error
  text, or that error on any change of the value, are not reported.
* **Boolean-based** — per context (numeric, quoted, ``LIKE``, parenthesised) a true and a
  false condition: the true page must match the baseline and the false page must differ,
  beyond the noise measured between baselines (the page's own variation; a page that
  varies too much is not tested). A candidate is confirmed by a second, differently
  written pair whose false page matches the first one, with a third baseline to measure
  noise again. Reflected payload text is removed before pages are compared.
* **Time-based** — only when the first two found nothing, and only for the DBMS already
  suspected when one is (an unconfirmed error signature, or the ``sqli_dbms`` option).
  One multi-context payload per DBMS; the delayed response must exceed the latency bound
  of three baseline requests plus 0.8·D, the same payload with delay 0 must be fast again
  and with 2·D slower still, so the delay follows the payload.

Payloads only add ``AND`` conditions or expressions that empty the result: a statement
they reach never affects more rows than the original one would (no ``OR 1=1``).

Requests per parameter, baselines included (figures seen on the test application):

* error-based proof: baseline, the imbalance, 1–3 balanced payloads — 3–5 (3–4);
* boolean proof: 3 baselines, the imbalance, 1–2 per context tried before the right one,
  4 for the two pairs, 1–5 to name the DBMS — (9–12);
* nothing found: 3 baselines, the imbalance, 1–2 per context (5 contexts for a numeric
  value, 4 for text), 1 per delay payload (4; 3 in a cookie) — 11–13;
* time-based proof: as "nothing found" up to the right DBMS, then 3 — (11–12), plus
  3·D seconds of waiting (D, 0, 2·D).

Options (``state.options``, flat or under a ``"web.*"`` policy entry): ``time_delay`` —
D in whole seconds (default 2, 1–30; shared with the other time-based checks);
``time_based`` — 0 turns the time-based technique off; ``sqli_dbms`` — the back-end when
the tester knows it (a key of the data file's ``dbms``): only its delay payload is sent.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shaobing.scan.checks import Safety
from shaobing.web.checks._inject import baseline, describe, send
from shaobing.web.checks._support import PROBE_ERRORS, load_data, option
from shaobing.web.checks.base import PointCheck, Probe, register
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from shaobing.web.request import Location

CHECK_ID = "web.sqli"
KIND = "sqli"
GENERIC = "generic"
# Characters of a response searched for error signatures (organisation-defined: DBMS
# errors sit near the top of error pages; the client already caps bodies at 2 MiB).
MAX_SCAN_CHARS = 500_000
# Matches of one pattern inside longer words skipped before giving up (organisation-
# defined: bounds the work on text made of near-misses).
MAX_MATCH_TRIES = 100
# Characters of a page compared word by word (the same cut as base.similarity()).
MAX_COMPARE_CHARS = 200_000
# Length of the error excerpt quoted in the detail (organisation-defined).
EXCERPT_CHARS = 160
# Page comparison margins on the word-set distance 1 − Jaccard (organisation-defined):
# "the same page" may differ by 2 % of its words beyond the noise between baselines;
# "a different page" must differ by more than 3 % beyond it; pages whose baselines
# already differ by 30 % or more are too unstable for boolean inference.
SAME_MARGIN = 0.02
DIFF_MARGIN = 0.03
MAX_NOISE = 0.30
# Time-based thresholds as fractions of the injected delay D (organisation-defined, from
# the requirement's "statistical confirmation"): a delayed answer must exceed the latency
# bound by 0.8·D; the delay-0 answer must stay below bound + 0.5·D.
SLOW_FRACTION = 0.8
FAST_FRACTION = 0.5
# Default delay D in seconds and its allowed range (organisation-defined; the policy
# option ``time_delay`` changes it).
DEFAULT_DELAY = 2
MAX_DELAY = 30
# Baseline requests behind the latency bound (Probe.latency_bound's default).
TIMING_SAMPLES = 3
# Headroom kept below the client timeout for the 2·D confirmation (organisation-defined);
# when 2·D does not fit, the confirmation repeats D instead.
TIMEOUT_HEADROOM = 0.5
# Rows per second of SQLite's recursive counting query (measured: about 3 million on the
# 2-core reference machine under load) — SQLite has no sleep function, see sqli.yaml.
SQLITE_ROWS_PER_SECOND = 3_000_000
# Random tokens of the payloads: integers in [1000, 9999) (four digits, organisation-
# defined) and four-letter lowercase words.
_LOW, _HIGH = 1000, 9999
_WORD_LETTERS = 4
_WORDS = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\s*-?\d+(?:\.\d+)?\s*")
_FIELD = re.compile(r"\{(\w+)\}")
# A markup tag (bounded, so a stray "<" cannot make the scan quadratic).
_TAG = re.compile(r"<[^<>]{0,300}>")
# Spaces next to Chinese punctuation (left by folded YAML lines and padded names).
_SPACE_BEFORE_PUNCT = re.compile(r" ([，。；：、）])")
_SPACE_AFTER_PUNCT = re.compile(r"([，。；：、（]) ")


# --- the data file ------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DbmsData(_Model):
    """Error signatures of one DBMS (regular expressions)."""

    label: str = Field(min_length=1)
    patterns: tuple[str, ...] = Field(min_length=1)


class ErrorData(_Model):
    """The quote-imbalance payload and the balanced payload of each context."""

    imbalance: str = Field(min_length=1)
    balanced: dict[Literal["numeric", "single", "double"], str]


class BooleanContext(_Model):
    """One SQL context of the boolean technique: a template with ``{cond}``."""

    name: str
    values: Literal["any", "numeric", "text"]
    template: str = Field(pattern=r"\{cond\}")


class Fingerprint(_Model):
    """A condition true only on one DBMS."""

    dbms: str
    cond: str


class BooleanData(_Model):
    """Condition pairs, contexts and DBMS fingerprints of the boolean technique."""

    conditions: tuple[tuple[str, str], ...] = Field(min_length=2)
    contexts: tuple[BooleanContext, ...] = Field(min_length=1)
    fingerprints: tuple[Fingerprint, ...] = ()


class TimeFamily(_Model):
    """The delay payload of one DBMS (``{d}``/``{hms}``/``{rows}`` give the delay)."""

    payload: str
    parts: dict[str, str] = Field(default_factory=dict)
    stacked: bool = False
    """Uses ``;`` (a stacked statement): not sent in cookies, where ``;`` ends the value."""
    reliable: bool = True


class TimeData(_Model):
    """Delay payloads per DBMS and the order tried when the DBMS is unknown."""

    default: tuple[str, ...]
    families: dict[str, TimeFamily]


class Texts(_Model):
    """The detail lines of a finding (Chinese)."""

    unknown_dbms: str
    oracle_like: str
    error: str
    boolean: str
    boolean_dbms: str
    time: str
    time_unreliable: str


class SqliData(_Model):
    """Everything ``web/data/sqli.yaml`` holds."""

    version: int = 1
    dbms: dict[str, DbmsData]
    precedence: tuple[str, ...]
    error: ErrorData
    boolean: BooleanData
    time: TimeData
    texts: Texts

    @model_validator(mode="after")
    def _consistent(self) -> SqliData:
        known = set(self.dbms)
        named = [*self.precedence, *self.time.default, *self.time.families]
        named += [f.dbms for f in self.boolean.fingerprints]
        unknown = sorted({name for name in named if name not in known})
        if unknown:
            raise ValueError(f"unknown DBMS key(s): {', '.join(unknown)}")
        missing = [d for d in self.time.default if d not in self.time.families]
        if missing:
            raise ValueError(f"time.default names DBMS without a payload: {missing}")
        for key, family in self.time.families.items():
            # Before the comment, a quoted context is still inside its string literal: a
            # quote there would end the literal early and break the other contexts.
            head = fill(family.payload.split("/*", 1)[0], family.parts)
            if not family.stacked and ("'" in head or '"' in head):
                raise ValueError(f"time.families.{key}: a quote before the comment")
        for key, entry in self.dbms.items():
            for pattern in entry.patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"dbms.{key}: bad pattern {pattern!r}: {exc}") from None
        return self


@cache
def sqli_data() -> SqliData:
    """The parsed and checked ``web/data/sqli.yaml``."""
    return SqliData.model_validate(load_data("sqli.yaml"))


@cache
def _signatures() -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    # One regex per pattern, each starting with fixed text: the regex engine then finds
    # candidates with a fast substring search (an alternation or a leading \b would make
    # it try every position — 20 times slower on a large page).
    data = sqli_data()
    return tuple(
        (key, tuple(re.compile(p) for p in entry.patterns)) for key, entry in data.dbms.items()
    )


# --- error signatures ---------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorSignature:
    """A DBMS error found in a response."""

    dbms: str
    """Key of ``dbms`` in the data file (``generic`` for a driver error of unknown type)."""
    label: str
    matched: str
    excerpt: str


def find_errors(text: str) -> dict[str, ErrorSignature]:
    """The DBMS error signatures present in ``text``, one (the first) per DBMS."""
    data = sqli_data()
    text = text[:MAX_SCAN_CHARS]
    found: dict[str, ErrorSignature] = {}
    for key, patterns in _signatures():
        for pattern in patterns:
            match = _search(pattern, text)
            if match is not None:
                label = data.dbms[key].label
                found[key] = ErrorSignature(key, label, match.group(0), _excerpt(text, match))
                break
    return found


def _ascii_word(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _search(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match of ``pattern`` not starting inside an ASCII word (the data file's
    leading word boundary, checked here so the pattern can start with fixed text)."""
    for tries, match in enumerate(pattern.finditer(text)):
        start = match.start()
        if start == 0 or not _ascii_word(text[start]) or not _ascii_word(text[start - 1]):
            return match
        if tries >= MAX_MATCH_TRIES:
            return None
    return None


def _excerpt(text: str, match: re.Match[str]) -> str:
    """The line or element holding ``match`` as plain text, at most
    :data:`EXCERPT_CHARS` characters."""
    before = text[max(0, match.start() - EXCERPT_CHARS // 2) : match.start()]
    start = max(before.rfind(">"), before.rfind("\n")) + 1
    after = text[match.end() : match.end() + EXCERPT_CHARS]
    ends = [at for at in (after.find("<"), after.find("\n")) if at >= 0]
    piece = before[start:] + match.group(0) + after[: min(ends, default=len(after))]
    piece = " ".join(_TAG.sub(" ", piece).split())
    return piece if len(piece) <= EXCERPT_CHARS else piece[:EXCERPT_CHARS] + "…"


def _json_strings(value: Any, out: list[str], depth: int = 0) -> None:
    # Depth limit (organisation-defined, as request.MAX_JSON_DEPTH): hostile nesting.
    if depth > 8:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _json_strings(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value[:200]:  # organisation-defined: enough for an error object
            _json_strings(item, out, depth + 1)


def searchable_text(response: WebResponse) -> str:
    """The response as text in which error messages read as printed: HTML entities
    decoded and, for JSON bodies, the strings of the document unescaped."""
    text = response.text[:MAX_SCAN_CHARS]
    if "&" in text:
        text = html.unescape(text)
    head = text.lstrip()[:1]
    if head in ("{", "[") or "json" in response.content_type:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return text
        strings: list[str] = []
        _json_strings(document, strings)
        text += "\n" + "\n".join(strings)
    return text


def response_errors(response: WebResponse) -> dict[str, ErrorSignature]:
    """:func:`find_errors` of a response (entities and JSON escapes decoded)."""
    return find_errors(searchable_text(response))


def primary_error(errors: dict[str, ErrorSignature]) -> ErrorSignature | None:
    """The most specific of ``errors``: a named DBMS in precedence order, else generic."""
    for key in sqli_data().precedence:
        if key in errors:
            return errors[key]
    return errors.get(GENERIC)


# --- page comparison ----------------------------------------------------------------------


def _reflections(injected: str) -> list[str]:
    forms = {injected, quote(injected, safe=""), quote_plus(injected), quote(injected)}
    forms.add(json.dumps(injected, ensure_ascii=False)[1:-1])
    forms.add(json.dumps(injected)[1:-1])
    # Longest first, so a form is not cut by a shorter one it contains.
    return sorted((f for f in forms if f), key=len, reverse=True)


def page_words(response: WebResponse, injected: str = "") -> frozenset[str]:
    """The words of a page with the reflected ``injected`` value cut out (in its plain,
    HTML-escaped, URL-encoded and JSON-escaped forms)."""
    text = response.text[:MAX_COMPARE_CHARS]
    if "&" in text:
        text = html.unescape(text)
    if injected:
        for form in _reflections(injected):
            text = text.replace(form, " ")
    return frozenset(_WORDS.findall(text))


def distance(first: frozenset[str], second: frozenset[str], ignore: frozenset[str]) -> float:
    """1 − Jaccard similarity of two word sets (the measure of base.similarity()),
    leaving out ``ignore`` (the words of the payloads and the original value)."""
    a, b = first - ignore, second - ignore
    if not a and not b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


# --- one parameter's test -----------------------------------------------------------------


def _token_word(rng: secrets.SystemRandom, avoid: str = "") -> str:
    while True:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(_WORD_LETTERS))
        if word != avoid:
            return word


def fill(template: str, values: dict[str, str]) -> str:
    """``template`` with its ``{name}`` fields replaced (unknown fields are kept, so SQL
    braces in a hand-edited payload cannot raise)."""
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass
class _Sample:
    """A sent payload with its response's words."""

    payload: str
    response: WebResponse
    words: frozenset[str]


@dataclass
class Proof:
    """What proved the injection: technique, DBMS, payload, evidence and detail."""

    technique: Literal["error", "boolean", "time"]
    dbms: str | None
    payload: str
    response: WebResponse
    detail: str
    context: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Run:
    """The state of one parameter's test."""

    def __init__(self, probe: Probe, base: WebResponse) -> None:
        rng = secrets.SystemRandom()
        low = rng.randrange(_LOW, _HIGH - 100)
        high = rng.randrange(low + 1, _HIGH)
        word = _token_word(rng)
        self.tokens = {
            "n": str(low),
            "m": str(high),
            "w": word,
            "x": _token_word(rng, word),
        }
        self.probe = probe
        self.data = sqli_data()
        self.value = probe.point.value
        self.numeric = bool(_NUMBER.fullmatch(self.value))
        self.base = base
        self.base_errors = set(response_errors(base))
        self.sent = 0
        self.error_probe: WebResponse | None = None
        self.suspected: str | None = None

    def payload(self, template: str, **more: str) -> str:
        """A data-file template with this parameter's random tokens filled in."""
        return fill(template, {**self.tokens, **more})

    def send(self, payload: str, *, timeout: float | None = None) -> WebResponse | None:
        """``payload`` appended to the value; None when this one request failed."""
        self.sent += 1
        return send(self.probe, payload, append=True, timeout=timeout)

    def sample(self, payload: str) -> _Sample | None:
        """:meth:`send` with the response's words (reflection removed)."""
        response = self.send(payload)
        if response is None:
            return None
        return _Sample(payload, response, page_words(response, self.value + payload))

    def new_errors(self, response: WebResponse) -> dict[str, ErrorSignature]:
        """Error signatures of ``response`` whose DBMS the baseline does not show."""
        found = response_errors(response)
        return {k: v for k, v in found.items() if k not in self.base_errors}

    def dbms_name(self, key: str | None, *, exact: bool = False) -> str:
        """The DBMS as a detail names it; Oracle found by its functions alone (``exact``
        False) may be DM, which provides the same functions."""
        texts = self.data.texts
        if key is None or key == GENERIC:
            return texts.unknown_dbms
        if key == "oracle" and not exact:
            return texts.oracle_like
        return self.data.dbms[key].label


class _Pages:
    """The baselines of the boolean technique and the comparisons against them."""

    def __init__(self, run: _Run, bases: list[WebResponse]) -> None:
        self.run = run
        self.bases = bases
        # The original value is not cut out of the baselines (a short value such as "1"
        # would cut every "1" of the page); its words are ignored instead.
        self.words = [page_words(b) for b in bases]
        self.ignore: frozenset[str] = frozenset(_WORDS.findall(run.value))
        self.noise = self._noise()

    def _noise(self) -> float:
        pairs = [
            distance(a, b, self.ignore)
            for i, a in enumerate(self.words)
            for b in self.words[i + 1 :]
        ]
        return max(pairs, default=0.0)

    def refresh(self, bases: list[WebResponse]) -> None:
        """Take more baselines into the noise measure."""
        self.bases = bases
        self.words = [page_words(b) for b in bases]
        self.noise = self._noise()

    def ignoring(self, *payloads: str) -> None:
        """Leave the words of ``payloads`` out of every comparison from now on."""
        extra = {w for p in payloads for w in _WORDS.findall(p)}
        self.ignore = self.ignore | extra
        self.noise = self._noise()

    def to_base(self, sample: _Sample) -> float:
        """Distance of ``sample`` to the nearest baseline (a status change counts as 1)."""
        if all(sample.response.status != b.status for b in self.bases):
            return 1.0
        return min(
            distance(sample.words, words, self.ignore)
            for base, words in zip(self.bases, self.words, strict=True)
            if base.status == sample.response.status
        )

    def same(self, sample: _Sample) -> bool:
        """Whether ``sample`` is the baseline page, within the noise."""
        return self.to_base(sample) <= self.noise + SAME_MARGIN

    def different(self, sample: _Sample, *others: _Sample) -> bool:
        """Whether ``sample`` differs from every baseline and from ``others``."""
        if self.to_base(sample) <= self.noise + DIFF_MARGIN:
            return False
        for other in others:
            if other.response.status == sample.response.status and (
                distance(sample.words, other.words, self.ignore) <= self.noise + DIFF_MARGIN
            ):
                return False
        return True

    def alike(self, first: _Sample, second: _Sample) -> bool:
        """Whether two injected pages are the same page, within the noise."""
        if first.response.status != second.response.status:
            return False
        return distance(first.words, second.words, self.ignore) <= self.noise + SAME_MARGIN


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def _spaced(name: str) -> str:
    """A DBMS name set off by spaces where it meets Chinese text with Latin letters."""
    head = " " if name[:1].isascii() else ""
    tail = " " if name[-1:].isascii() and name[-1:] not in ")）" else ""
    return head + name + tail


def _one_line(text: str) -> str:
    """``text`` on one line, without a space before Chinese punctuation."""
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))
    return _SPACE_AFTER_PUNCT.sub(r"\1", text)


class SqlInjectionCheck(PointCheck):
    """SQL injection in one parameter (query, form, JSON, cookie, header, path)."""

    id = CHECK_ID
    safety = Safety.ACTIVE
    kinds = (KIND,)

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """One issue when an injection is proved, with the technique that proved it."""
        base = baseline(probe)
        if base is None:
            return
        run = _Run(probe, base)
        proof = self._error_based(run) or self._boolean_based(run)
        if proof is None and self._time_enabled(probe):
            proof = self._time_based(run)
        if proof is None:
            return
        data = run.data
        extra: dict[str, Any] = {
            "technique": [proof.technique],
            "dbms": proof.dbms,
            "dbms_name": run.dbms_name(proof.dbms, exact=proof.technique == "error"),
            "payload": proof.payload,
            "context": proof.context,
            "requests": run.sent + len(probe.baselines(0)),
            **proof.extra,
        }
        detail = f"{describe(probe.point)}：{proof.detail}"
        issue = probe.issue(KIND, detail, proof.response, **extra)
        if proof.technique == "time" and not data.time.families[str(proof.dbms)].reliable:
            issue.confidence = "probable"
        yield issue

    # --- error-based ----------------------------------------------------------------------

    def _balanced_order(self, run: _Run) -> list[Literal["numeric", "single", "double"]]:
        if run.numeric:
            return ["numeric", "single", "double"]
        return ["single", "double", "numeric"]

    def _error_based(self, run: _Run) -> Proof | None:
        data = run.data.error
        payload = run.payload(data.imbalance)
        response = run.send(payload)
        run.error_probe = response
        if response is None:
            return None
        found = primary_error(run.new_errors(response))
        if found is None:
            return None
        run.suspected = None if found.dbms == GENERIC else found.dbms
        for context in self._balanced_order(run):
            balanced = run.payload(data.balanced[context])
            answer = run.send(balanced)
            if answer is None or run.new_errors(answer):
                continue
            dbms = None if found.dbms == GENERIC else found.dbms
            detail = fill(
                run.data.texts.error,
                {
                    "payload": payload,
                    "dbms": _spaced(run.dbms_name(dbms, exact=True)),
                    "excerpt": found.excerpt,
                    "balanced": balanced,
                },
            )
            return Proof(
                "error",
                dbms,
                payload,
                response,
                _one_line(detail),
                context,
                {"error_text": found.matched, "balanced_payload": balanced},
            )
        return None

    # --- boolean-based --------------------------------------------------------------------

    def _contexts(self, run: _Run) -> list[Any]:
        wanted = {"any", "numeric" if run.numeric else "text"}
        return [c for c in run.data.boolean.contexts if c.values in wanted]

    def _pair(
        self, run: _Run, pages: _Pages, template: str, index: int, false_first: bool
    ) -> tuple[_Sample, _Sample] | None:
        true_cond, false_cond = run.data.boolean.conditions[index]
        true_payload = run.payload(template, cond=run.payload(true_cond))
        false_payload = run.payload(template, cond=run.payload(false_cond))
        pages.ignoring(true_payload, false_payload)
        # Send first the half that most often ends the test: on a page that ignores the
        # value the false page (same as baseline), otherwise the true page (different).
        if false_first:
            false = run.sample(false_payload)
            if false is None or not pages.different(false):
                return None
            true = run.sample(true_payload)
            if true is None or not pages.same(true):
                return None
        else:
            true = run.sample(true_payload)
            if true is None or not pages.same(true):
                return None
            false = run.sample(false_payload)
            if false is None:
                return None
        if not pages.different(false, true):
            return None
        return true, false

    def _boolean_based(self, run: _Run) -> Proof | None:
        probe = run.probe
        try:
            bases = probe.baselines(2)
        except PROBE_ERRORS:
            return None
        pages = _Pages(run, bases)
        if pages.noise > MAX_NOISE:
            return None
        false_first = False
        if run.error_probe is not None:
            injected = run.value + run.payload(run.data.error.imbalance)
            broken = _Sample("", run.error_probe, page_words(run.error_probe, injected))
            false_first = pages.same(broken)
        for context in self._contexts(run):
            first = self._pair(run, pages, context.template, 0, false_first)
            if first is None:
                continue
            # A candidate: measure the noise again with a third baseline, then confirm
            # with the second, differently written pair.
            try:
                pages.refresh(probe.baselines(3))
            except PROBE_ERRORS:
                return None
            if pages.noise > MAX_NOISE or not (
                pages.same(first[0]) and pages.different(first[1], first[0])
            ):
                continue
            second = self._pair(run, pages, context.template, 1, false_first)
            if second is None or not pages.alike(second[1], first[1]):
                continue
            return self._boolean_proof(run, pages, context.name, context.template, first, second)
        return None

    def _fingerprint(self, run: _Run, pages: _Pages, template: str) -> tuple[str, str] | None:
        for entry in run.data.boolean.fingerprints:
            payload = run.payload(template, cond=run.payload(entry.cond))
            pages.ignoring(payload)
            sample = run.sample(payload)
            if sample is not None and pages.same(sample):
                return entry.dbms, payload
        return None

    def _boolean_proof(
        self,
        run: _Run,
        pages: _Pages,
        context: str,
        template: str,
        first: tuple[_Sample, _Sample],
        second: tuple[_Sample, _Sample],
    ) -> Proof:
        texts = run.data.texts
        true, false = first
        detail = fill(
            texts.boolean,
            {
                "true_payload": true.payload,
                "false_payload": false.payload,
                "true_similarity": _fmt(1 - pages.to_base(true)),
                "false_similarity": _fmt(1 - pages.to_base(false)),
                "true_payload2": second[0].payload,
                "false_payload2": second[1].payload,
            },
        )
        dbms: str | None = None
        extra: dict[str, Any] = {
            "true_payload": true.payload,
            "false_payload": false.payload,
            "noise": round(pages.noise, 4),
        }
        named = self._fingerprint(run, pages, template)
        if named is not None:
            dbms, payload = named
            detail += fill(
                texts.boolean_dbms, {"payload": payload, "dbms": _spaced(run.dbms_name(dbms))}
            )
            extra["fingerprint_payload"] = payload
        return Proof(
            "boolean", dbms, false.payload, false.response, _one_line(detail), context, extra
        )

    # --- time-based -----------------------------------------------------------------------

    def _time_enabled(self, probe: Probe) -> bool:
        return option(probe.state, self.id, "time_based", 1, 0, 1) == 1

    def _families(self, run: _Run) -> list[str]:
        families = run.data.time.families
        hint = run.probe.state.options.get("sqli_dbms")
        if isinstance(hint, str) and hint:
            if hint not in run.data.dbms or hint == GENERIC:
                known = "、".join(k for k in run.data.dbms if k != GENERIC)
                raise ValueError(
                    f"检查项 {self.id} 的参数 sqli_dbms 取值 {hint!r} 无效（应为 {known}）"
                )
            return [hint] if hint in families else []
        if run.suspected is not None:
            return [run.suspected] if run.suspected in families else []
        return list(run.data.time.default)

    def _delayed(self, run: _Run, key: str, seconds: float) -> tuple[str, WebResponse | None]:
        payload = time_payload(key, seconds, run.tokens)
        return payload, run.send(payload)

    def _time_based(self, run: _Run) -> Proof | None:
        probe = run.probe
        families = self._families(run)
        if not families:
            return None
        delay = float(option(probe.state, self.id, "time_delay", DEFAULT_DELAY, 1, MAX_DELAY))
        try:
            bound = probe.latency_bound(TIMING_SAMPLES)
        except PROBE_ERRORS:
            return None
        if bound + delay + TIMEOUT_HEADROOM > probe.client.timeout:
            return None  # the delayed answer could not arrive before the client gives up
        fits = bound + 2 * delay + TIMEOUT_HEADROOM <= probe.client.timeout
        second = 2 * delay if fits else delay
        for key in families:
            family = run.data.time.families[key]
            if family.stacked and probe.point.location is Location.COOKIE:
                continue
            payload, slow = self._delayed(run, key, delay)
            if slow is None or slow.duration <= bound + SLOW_FRACTION * delay:
                continue
            _, fast = self._delayed(run, key, 0)
            if fast is None or fast.duration >= bound + FAST_FRACTION * delay:
                continue
            _, slower = self._delayed(run, key, second)
            if slower is None or slower.duration <= bound + SLOW_FRACTION * second:
                continue
            answers = (slow, fast, slower)
            return self._time_proof(run, key, payload, (delay, second, bound), answers)
        return None

    def _time_proof(
        self,
        run: _Run,
        key: str,
        payload: str,
        figures: tuple[float, float, float],
        answers: tuple[WebResponse, WebResponse, WebResponse],
    ) -> Proof:
        delay, second, bound = figures
        slow, fast, slower = answers
        texts = run.data.texts
        detail = fill(
            texts.time,
            {
                "dbms": _spaced(run.dbms_name(key)),
                "delay": f"{delay:g}",
                "t1": _fmt(slow.duration),
                "bound": _fmt(bound),
                "t0": _fmt(fast.duration),
                "delay2": f"{second:g}",
                "t2": _fmt(slower.duration),
            },
        )
        if not run.data.time.families[key].reliable:
            detail += texts.time_unreliable
        durations = [round(r.duration, 4) for r in answers]
        extra = {
            "delay_seconds": delay,
            "latency_bound_seconds": round(bound, 4),
            "durations_seconds": durations,
        }
        return Proof("time", key, payload, slow, _one_line(detail), None, extra)


def time_payload(key: str, seconds: float, tokens: dict[str, str]) -> str:
    """The delay payload of the DBMS ``key`` for ``seconds``, with ``tokens`` ({n}, {w}...)
    filled in."""
    family = sqli_data().time.families[key]
    values = {
        **tokens,
        "d": f"{seconds:g}",
        "hms": _hms(seconds),
        "rows": str(int(seconds * SQLITE_ROWS_PER_SECOND)),
    }
    parts = {name: fill(text, values) for name, text in family.parts.items()}
    return fill(family.payload, {**values, **parts})


def _hms(seconds: float) -> str:
    """``seconds`` as WAITFOR DELAY's ``hh:mm:ss.fff``."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


register(SqlInjectionCheck())
