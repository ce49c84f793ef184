"""The Chinese texts, severity, CVSS vector, CWE and OWASP id of every web finding class.

Kept as data (``web/data/checks.yaml``); ``$SHAOBING_HOME/web_checks.yaml`` may override
any field of any class. Loading checks that each severity agrees with its vector's base
score (FIRST CVSS v3.1 qualitative scale), so a hand edit cannot leave a "高" finding with
a medium score.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from cvss import CVSS3
from cvss.exceptions import CVSSError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.findings.severity import Severity, severity_from_score

OVERRIDE_NAME = "web_checks.yaml"
# Largest override file read (organisation-defined; the built-in file is ~20 KB).
MAX_OVERRIDE_BYTES = 1 * 2**20
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CheckText(BaseModel):
    """One finding class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    severity: Severity
    cvss: str | None = None
    cwe: tuple[int, ...] = ()
    owasp: str = Field(pattern=r"^A(0[1-9]|10):2021$")
    description: str = Field(min_length=1)
    impact: str = Field(min_length=1)
    remediation: str = Field(min_length=1)
    references: tuple[str, ...] = ()


class Catalogue(BaseModel):
    """Every class plus the OWASP Top 10 names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    owasp_names: dict[str, str]
    checks: dict[str, CheckText]

    def text(self, key: str) -> CheckText:
        """The class ``key``; raises KeyError for an unknown class (a programming error)."""
        return self.checks[key]

    def owasp_label(self, key: str) -> str:
        """``A03:2021 注入`` for the class ``key``."""
        code = self.checks[key].owasp
        return f"{code} {self.owasp_names.get(code, '')}".strip()


def _check_scores(catalogue: Catalogue, source: str) -> None:
    for key, text in catalogue.checks.items():
        if text.cvss is None:
            if text.severity is not Severity.INFO:
                raise ValidationError(t("web.texts.cvss_missing", source=source, key=key))
            continue
        try:
            score = CVSS3(text.cvss).scores()[0]
        except (CVSSError, ValueError) as exc:
            raise ValidationError(
                t("web.texts.cvss_invalid", source=source, key=key, detail=exc)
            ) from None
        if severity_from_score(float(score)) is not text.severity:
            raise ValidationError(
                t(
                    "web.texts.severity_mismatch",
                    source=source,
                    key=key,
                    severity=text.severity.label,
                    score=score,
                )
            )


def _parse(data: Any, source: str) -> Catalogue:
    try:
        catalogue = Catalogue.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise ValidationError(
            t("web.texts.invalid", source=source, field=where or "-", detail=first.get("msg", ""))
        ) from None
    _check_scores(catalogue, source)
    return catalogue


@cache
def builtin_catalogue() -> Catalogue:
    """The catalogue shipped with the platform."""
    text = files("shaobing.web").joinpath("data/checks.yaml").read_text(encoding="utf-8")
    return _parse(yaml.load(text, Loader=_LOADER), "checks.yaml")  # noqa: S506 - safe loader


def _merge(base: Catalogue, override: Any, source: str) -> Catalogue:
    if not isinstance(override, dict):
        raise ValidationError(t("web.texts.invalid", source=source, field="-", detail="mapping"))
    data = base.model_dump(mode="json")
    checks = override.get("checks") or {}
    if not isinstance(checks, dict):
        raise ValidationError(
            t("web.texts.invalid", source=source, field="checks", detail="mapping")
        )
    for key, fields in checks.items():
        if key not in data["checks"]:
            raise ValidationError(t("web.texts.unknown_class", source=source, key=key))
        if not isinstance(fields, dict):
            raise ValidationError(
                t("web.texts.invalid", source=source, field=key, detail="mapping")
            )
        data["checks"][key].update(fields)
    return _parse(data, source)


@cache
def _with_override(path: str, _stamp: tuple[int, int]) -> Catalogue:
    raw = Path(path).read_bytes()
    if len(raw) > MAX_OVERRIDE_BYTES:
        raise ValidationError(t("web.texts.too_large", source=path, limit=MAX_OVERRIDE_BYTES))
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ValidationError(t("web.texts.yaml", source=path, detail=detail)) from None
    return _merge(builtin_catalogue(), data, path)


def catalogue(override: Path | None = None) -> Catalogue:
    """The effective catalogue: built-in plus ``$SHAOBING_HOME/web_checks.yaml`` if present."""
    path = override if override is not None else get_settings().home / OVERRIDE_NAME
    try:
        stat = path.stat()
    except FileNotFoundError:
        return builtin_catalogue()
    return _with_override(str(path), (stat.st_mtime_ns, stat.st_size))
