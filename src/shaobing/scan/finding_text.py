"""Finding texts kept as data, and the observation built from one.

The check plugins keep their Chinese titles, descriptions, advice, CVSS vectors, CWE ids and
evidence templates in YAML files; this module holds the schema they share and the one way
an observation is made from an entry, so every check fills the same fields the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shaobing.findings.severity import Severity
from shaobing.scan.checks import Observation, ServiceTarget

_VECTOR = re.compile(
    r"^CVSS:3\.1/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]$"
)
# Evidence values are cut to this many characters (one line each).
DEFAULT_VALUE_CHARS = 120


class FindingText(BaseModel):
    """One kind of finding: texts, severity, CVSS v3.1 base vector, CWE, evidence templates.

    Loaders check that the severity agrees with the vector's base score.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    severity: Severity
    cvss: str
    cwe: tuple[int, ...] = ()
    description: str = Field(min_length=1)
    remediation: str = Field(min_length=1)
    evidence: dict[str, str] = Field(min_length=1)
    references: tuple[str, ...] = ()

    @field_validator("cvss")
    @classmethod
    def _base_vector(cls, value: str) -> str:
        if not _VECTOR.match(value):
            raise ValueError(f"not a CVSS v3.1 base vector: {value}")
        return value


def short(value: object, limit: int = DEFAULT_VALUE_CHARS) -> str:
    """One line, control characters removed, white space folded, cut to ``limit``."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_observation(
    check_id: str,
    text: FindingText,
    target: ServiceTarget,
    parts: Sequence[tuple[str, Mapping[str, object]]],
    *,
    identity: str | None = None,
    secret: str | None = None,
    extra: dict[str, Any] | None = None,
    limit: int = DEFAULT_VALUE_CHARS,
) -> Observation:
    """The observation of ``text`` on ``target``; evidence is the filled templates of
    ``parts`` (template name, values) joined with "；"."""
    evidence = "；".join(
        text.evidence[part].format_map({k: short(v, limit) for k, v in values.items()})
        for part, values in parts
    )
    return Observation(
        check_id=check_id,
        title=text.title,
        severity=text.severity,
        address=target.address,
        port=target.port,
        protocol=target.protocol,
        description=text.description,
        remediation=text.remediation,
        evidence=evidence,
        cvss_v3_vector=text.cvss,
        cwe_ids=list(text.cwe),
        references=list(text.references),
        identity=identity,
        secret=secret,
        extra=extra or {},
    )
