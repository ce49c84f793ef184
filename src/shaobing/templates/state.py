"""What one template run shares between its request blocks: variables, extracted values,
the HTTP client and cookie jar, and the results found so far."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shaobing.scan.checks import CheckContext
from shaobing.templates.extractors import extract
from shaobing.templates.httpclient import HttpClient
from shaobing.templates.matchers import MatchOutcome, evaluate_matchers
from shaobing.templates.model import Operators, Template
from shaobing.templates.oob.engine import OobRun, interaction_variables
from shaobing.templates.oob.registry import Interaction

# Longest request/response text kept in a result (the rest is cut, marked with "...").
MAX_EVIDENCE = 4096
MAX_ITERATIONS = 256


def clip(text: str, limit: int = MAX_EVIDENCE) -> str:
    """``text`` cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class TemplateResult:
    """One match, with the fields Nuclei's JSON output carries."""

    template: Template
    type: str
    host: str
    matched_at: str
    url: str
    scheme: str
    port: str
    ip: str
    extracted: list[str] = field(default_factory=list)
    matcher_name: str | None = None
    request: str = ""
    response: str = ""
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    interactions: list[Interaction] = field(default_factory=list)
    """Out-of-band callbacks the match relied on (evidence: protocol, peer, time)."""


@dataclass
class Evaluation:
    """Matchers and extractors applied to one response."""

    outcome: MatchOutcome
    extracted: list[str]
    """Values of the non-internal extractors (reported)."""
    found: bool
    """Whether the block counts as a hit (matched, or an extractor-only block found values)."""
    interactions: tuple[Interaction, ...] = ()
    """The out-of-band callbacks the matchers and extractors saw."""


class RunState:
    """Shared state of one run of one template against one target."""

    def __init__(
        self, template: Template, target: str, ctx: CheckContext, variables: dict[str, Any]
    ) -> None:
        self.template = template
        self.target = target
        self.ctx = ctx
        self.variables = variables
        self.dynamic: dict[str, list[str]] = {}
        self.results: list[TemplateResult] = []
        self.notes: list[str] = []
        self.client = HttpClient(ctx)
        self.cookies: dict[str, dict[str, str]] = {}
        self.requests = 0
        self.oob = OobRun(template, variables)

    def note(self, text: str) -> None:
        """Record why something was not sent or not read (shown with --verbose output)."""
        if len(self.notes) < 100:
            self.notes.append(text)

    def base_variables(self) -> dict[str, Any]:
        """Target and template variables plus the first value of each extracted one."""
        values = dict(self.variables)
        for name, found in self.dynamic.items():
            if found:
                values[name] = found[0]
        return values

    def iterations(self, texts: list[str], iterate_all: bool) -> Iterator[dict[str, str]]:
        """One empty mapping, or with ``iterate-all`` every combination of the extracted
        values the request texts refer to."""
        if not iterate_all:
            yield {}
            return
        names = [n for n, v in self.dynamic.items() if len(v) > 1 and any(n in t for t in texts)]
        if not names:
            yield {}
            return
        combos = itertools.product(*(self.dynamic[name] for name in names))
        for values in itertools.islice(combos, MAX_ITERATIONS):
            yield dict(zip(names, values, strict=True))

    def evaluate(
        self,
        operators: Operators,
        variables: dict[str, Any],
        *,
        default_part: str = "body",
        raw: Mapping[str, bytes] | None = None,
        match: bool = True,
        oob_ids: Iterable[str] = (),
    ) -> Evaluation:
        """Run extractors (named values become variables) then matchers.

        When the template uses callbacks, the ``interactsh_*`` variables are set first:
        the callbacks of ``oob_ids`` (the request's correlation ids) and of the run's own
        ids, waited for when the operators read them."""
        interactions: tuple[Interaction, ...] = ()
        if self.oob.needed:
            variables.update(interaction_variables(()))
            found = self.oob.interactions(
                operators,
                variables,
                oob_ids,
                default_part=default_part,
                raw=raw,
                match_now=match,
            )
            interactions = tuple(found)
            variables.update(interaction_variables(interactions))
        reported: list[str] = []
        any_values = False
        for extractor in operators.extractors:
            values = extract(extractor, variables, default_part=default_part)
            if not values:
                continue
            any_values = True
            if extractor.name:
                self.dynamic[extractor.name] = values
                variables[extractor.name] = values[0]
            if not extractor.internal:
                reported.extend(values)
        reported = list(dict.fromkeys(reported))
        if not match:
            return Evaluation(MatchOutcome(False), reported, False, interactions)
        if operators.matchers:
            outcome = evaluate_matchers(operators, variables, default_part=default_part, raw=raw)
            return Evaluation(outcome, reported, outcome.matched, interactions)
        outcome = MatchOutcome(any_values, (), bool(reported))
        return Evaluation(outcome, reported, any_values, interactions)

    def report(
        self,
        kind: str,
        operators: Operators,
        evaluation: Evaluation,
        *,
        matched_at: str,
        request: str,
        response: str,
    ) -> None:
        """Turn a hit into results: one per matched named matcher under ``or``."""
        if not evaluation.found or not evaluation.outcome.reportable:
            return
        if operators.matchers and not evaluation.outcome.matched:
            return
        parts = urlsplit(matched_at if "://" in matched_at else f"{kind}://{matched_at}")
        host = parts.hostname or ""
        scheme = parts.scheme if kind == "http" else ""
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        port = str(parts.port or default_port or "")
        names: list[str | None] = list(evaluation.outcome.names) or [None]
        if operators.condition == "and" and len(names) > 1:
            names = [None]
        for name in names:
            self.results.append(
                TemplateResult(
                    template=self.template,
                    type=kind,
                    host=f"{parts.scheme}://{parts.netloc}" if kind == "http" else parts.netloc,
                    matched_at=matched_at,
                    url=f"{parts.scheme}://{parts.netloc}" if kind == "http" else matched_at,
                    scheme=scheme,
                    port=port,
                    ip=host if _is_address(host) else "",
                    extracted=list(evaluation.extracted),
                    matcher_name=name,
                    request=clip(request),
                    response=clip(response),
                    interactions=list(evaluation.interactions),
                )
            )


def _is_address(host: str) -> bool:
    return bool(host) and (host.replace(".", "").isdigit() or ":" in host)
