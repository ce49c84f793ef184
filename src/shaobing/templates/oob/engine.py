"""What the template engine needs from the callback server.

``{{interactsh-url}}`` (or ``{{interactsh_url}}``) becomes ``<id>.<oob_domain>`` with a
fresh registered id per request; after the request, blocks whose matchers or extractors
read ``interactsh_protocol`` / ``interactsh_request`` / ``interactsh_response`` /
``interactsh_ip`` wait for callbacks and see them as those variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from shaobing.core.i18n import t
from shaobing.templates.matchers import match
from shaobing.templates.model import Extractor, Matcher, Operators, Template
from shaobing.templates.oob.registry import Interaction
from shaobing.templates.oob.server import OobServer, OobUnavailable, shared_server

URL_MARKER = re.compile(r"\{\{\s*interactsh[-_]url\s*\}\}", re.IGNORECASE)
URL_VARIABLES = ("interactsh-url", "interactsh_url")
PART_VARIABLES = (
    "interactsh_protocol",
    "interactsh_request",
    "interactsh_response",
    "interactsh_ip",
)
# The names a template uses to reach callbacks (a plain word "interactsh" in a matcher,
# e.g. a template that fingerprints an interactsh server, is not one).
_NAMES = re.compile(r"interactsh[-_](?:url|protocol|request|response|ip)", re.IGNORECASE)


def _mentions(texts: Iterable[str]) -> bool:
    return any(_NAMES.search(text) for text in texts)


def _matcher_texts(matcher: Matcher) -> list[str]:
    return [matcher.part or "", *matcher.values]


def _extractor_texts(extractor: Extractor) -> list[str]:
    return [extractor.part or "", *extractor.values]


def matcher_reads_oob(matcher: Matcher) -> bool:
    """Whether ``matcher`` reads an interactsh part or variable."""
    return _mentions(_matcher_texts(matcher))


def operators_read_oob(operators: Operators) -> bool:
    """Whether a block's matchers or extractors read interactsh parts (the block then
    waits for callbacks after each request)."""
    return any(matcher_reads_oob(m) for m in operators.matchers) or any(
        _mentions(_extractor_texts(e)) for e in operators.extractors
    )


def request_texts_use_url(texts: Iterable[str]) -> bool:
    """Whether request texts hold an ``{{interactsh-url}}`` marker (possibly nested in an
    expression, as in ``{{base64('... {{interactsh-url}} ...')}}``)."""
    return any(URL_MARKER.search(text) for text in texts)


# Answers of template_needs_oob per template object (templates are immutable; a run asks
# for every target, and scanning every text each time cost 5 % of a run).
_NEEDS: dict[int, tuple[Template, bool]] = {}
_NEEDS_LIMIT = 20_000


def template_needs_oob(template: Template) -> bool:
    """Whether any part of ``template`` uses callbacks (request texts, payloads,
    template variables, matchers or extractors)."""
    known = _NEEDS.get(id(template))
    if known is not None and known[0] is template:
        return known[1]
    answer = _needs_oob(template)
    if len(_NEEDS) >= _NEEDS_LIMIT:
        _NEEDS.clear()
    _NEEDS[id(template)] = (template, answer)
    return answer


def _needs_oob(template: Template) -> bool:
    texts: list[str] = [value for _, value in template.variables]
    for block in template.http:
        texts += [*block.paths, *block.raw, block.body, *(v for _, v in block.headers)]
        texts += [value for values in block.payloads.values() for value in values]
        if operators_read_oob(block.operators):
            return True
    for network in template.network:
        texts += [item.data for item in network.inputs]
        if operators_read_oob(network.operators):
            return True
    return _mentions(texts)


def url_variables(url: str) -> dict[str, str]:
    """The variables that render ``{{interactsh-url}}`` as ``url``."""
    return dict.fromkeys(URL_VARIABLES, url)


def with_url(payload: Mapping[str, Any], url: str) -> dict[str, Any]:
    """The callback host name variables plus the ``payload`` values that carry the
    marker, with it substituted (payload values are inserted as text, never rendered)."""
    out = {
        key: URL_MARKER.sub(url, value)
        for key, value in payload.items()
        if isinstance(value, str) and URL_MARKER.search(value)
    }
    out.update(url_variables(url))
    return out


def interaction_variables(interactions: Iterable[Interaction]) -> dict[str, str]:
    """``interactsh_protocol`` (protocols in order of arrival, one a line, e.g.
    ``dns\\nhttp``), ``interactsh_request``, ``interactsh_response`` and ``interactsh_ip``."""
    items = list(interactions)
    return {
        "interactsh_protocol": "\n".join(dict.fromkeys(i.protocol for i in items)),
        "interactsh_request": "\n\n".join(i.request for i in items),
        "interactsh_response": "\n\n".join(i.response for i in items if i.response),
        "interactsh_ip": "\n".join(dict.fromkeys(i.remote_address for i in items)),
    }


def allocate_url() -> str | None:
    """A registered callback host name for the template's own ``variables`` (one per
    run); None when no zone is configured (the run is then refused by :class:`OobRun`)."""
    server = shared_server()
    if server is None:
        return None
    return server.new_url()[1]


class OobRun:
    """Callback state of one template run."""

    def __init__(self, template: Template, run_variables: Mapping[str, Any]) -> None:
        self.template = template
        # Only the target and template variables: a response that echoes a request's id
        # must not turn it into an id of the whole run.
        self._run_variables = run_variables
        self.needed = template_needs_oob(template)
        self._server: OobServer | None = None
        self._run_ids: list[str] | None = None

    def require(self) -> OobServer:
        """The started server; raises OobUnavailable (one Chinese line naming
        SHAOBING_OOB_DOMAIN, or the port that cannot be bound) before anything is sent."""
        if self._server is not None:
            return self._server
        server = shared_server()
        if server is None:
            raise OobUnavailable(t("templates_oob.not_configured", path=str(self.template.path)))
        self._server = server.start()
        return self._server

    def new_url(self) -> tuple[str, str]:
        """A fresh registered id and its callback host name (for one request)."""
        return self.require().new_url()

    def run_ids(self) -> list[str]:
        """Ids the template's own variables hold (``oast: "{{interactsh-url}}"``): they
        belong to every request of the run."""
        if self._run_ids is None:
            values = self._run_variables.values()
            text = "\n".join(v for v in values if isinstance(v, str))
            self._run_ids = self.require().registry.find_ids(text) if text else []
        return self._run_ids

    def interactions(
        self,
        operators: Operators,
        variables: dict[str, Any],
        ids: Iterable[str],
        *,
        default_part: str,
        raw: Mapping[str, bytes] | None,
        match_now: bool,
    ) -> list[Interaction]:
        """The callbacks of ``ids`` plus the run's ids, waiting for them only when the
        block reads them and the outcome can still depend on them."""
        wanted = list(dict.fromkeys([*ids, *self.run_ids()]))
        if not wanted or not operators_read_oob(operators):
            return []
        server = self.require()
        extractors_read = any(_mentions(_extractor_texts(e)) for e in operators.extractors)
        if not extractors_read and (
            not match_now or _fails_anyway(operators, variables, default_part, raw)
        ):
            # Nothing reads the callbacks now: report what arrived, do not wait for more.
            return server.registry.interactions(wanted)
        return server.wait(wanted)


def _fails_anyway(
    operators: Operators,
    variables: Mapping[str, Any],
    default_part: str,
    raw: Mapping[str, bytes] | None,
) -> bool:
    """Under ``matchers-condition: and``, a failing matcher that does not read callbacks
    decides the outcome whatever arrives: waiting would only cost time."""
    if operators.condition != "and" or not operators.matchers:
        return False
    return any(
        not match(m, variables, default_part=default_part, raw=raw)
        for m in operators.matchers
        if not matcher_reads_oob(m)
    )
