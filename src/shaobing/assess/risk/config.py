"""Method parameters, threat catalogue and vulnerability classes: shipped YAML, schema-checked.

The method file (``data/method.yaml``) may be overridden per engagement by a partial YAML
mapping that is deep-merged onto the shipped one and then validated as a whole. Override
files come from people, so they are read with the safe loader under a size cap and every
error is one line naming the file and the field.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as SchemaError
from pydantic_core import ErrorDetails

from shaobing.core.errors import ValidationError, error_location
from shaobing.core.i18n import t

MAX_BYTES = 256 * 1024
LEVELS = (1, 2, 3, 4, 5)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_square(values: list[list[int]], name: str) -> list[list[int]]:
    if len(values) != 5 or any(len(row) != 5 for row in values):
        raise ValueError(t("risk.schema.square", name=name))
    if any(v < 1 for row in values for v in row):
        raise ValueError(t("risk.schema.cell_min", name=name))
    # Monotone tables are what makes "a higher input never lowers the risk" hold.
    for r in range(5):
        for c in range(5):
            if c and values[r][c] < values[r][c - 1]:
                raise ValueError(t("risk.schema.row_decreases", name=name, row=r + 1, col=c + 1))
            if r and values[r][c] < values[r - 1][c]:
                raise ValueError(t("risk.schema.col_decreases", name=name, row=r + 1, col=c + 1))
    return values


def _check_bands(bands: dict[int, float]) -> dict[int, float]:
    if sorted(bands) != list(LEVELS):
        raise ValueError(t("risk.schema.bands_levels"))
    uppers = [bands[level] for level in LEVELS]
    if any(b <= a for a, b in itertools.pairwise(uppers)):
        raise ValueError(t("risk.schema.bands_increase"))
    return bands


class Matrix(_Strict):
    """A 5×5 lookup table and the level bands of its cell values."""

    values: list[list[int]]
    bands: dict[int, float]

    @field_validator("values")
    @classmethod
    def _square(cls, values: list[list[int]]) -> list[list[int]]:
        return _check_square(values, "matrix")

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: dict[int, float]) -> dict[int, float]:
        return _check_bands(bands)

    @model_validator(mode="after")
    def _covered(self) -> Matrix:
        if max(max(row) for row in self.values) > self.bands[5]:
            raise ValueError(t("risk.schema.bands_cover", top=max(max(row) for row in self.values)))
        return self

    def cell(self, row: int, column: int) -> int:
        """The value at 1-based ``row`` and ``column``."""
        return self.values[row - 1][column - 1]


class MatrixMethod(_Strict):
    """The three tables of the matrix method."""

    likelihood: Matrix
    loss: Matrix
    risk: Matrix


Combine = Literal["sqrt_product", "product"]


def combine(kind: Combine, x: float, y: float) -> float:
    """Apply a multiplication-method function to two factors."""
    return math.sqrt(x * y) if kind == "sqrt_product" else x * y


class MultiplyMethod(_Strict):
    """Functions, rounding and level bands of the multiplication method."""

    likelihood: Combine
    loss: Combine
    risk: Combine
    decimals: int = Field(ge=0, le=4)
    rounding: Literal["half_up", "none"]
    bands: dict[int, float]

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: dict[int, float]) -> dict[int, float]:
        return _check_bands(bands)

    @model_validator(mode="after")
    def _covered(self) -> MultiplyMethod:
        top = combine(self.risk, combine(self.likelihood, 5, 5), combine(self.loss, 5, 5))
        if top > self.bands[5] + 1e-9:
            raise ValueError(t("risk.schema.bands_cover", top=f"{top:g}"))
        return self


class Measures(_Strict):
    """How existing security measures act on a risk."""

    combine: Literal["max", "sum"]
    max_effect: int = Field(ge=1, le=4)
    ineffective_severity: int = Field(ge=1, le=5)


class MethodConfig(_Strict):
    """Everything the calculation needs besides the inputs."""

    levels: dict[int, str]
    default_method: Literal["matrix", "multiply"]
    severity_map: dict[Literal["critical", "high", "medium", "low", "info"], int]
    include_info_findings: bool
    threat_value: Literal["frequency", "mean", "max"]
    asset_value: Literal["max"]
    default_system_value: int = Field(ge=1, le=5)
    bearing_matrix: list[list[int]]
    default_relevance: int = Field(ge=1, le=5)
    measures: Measures
    acceptable_max_level: int = Field(ge=0, le=5)
    rollup: Literal["max"]
    treatments: dict[int, str]
    matrix: MatrixMethod
    multiply: MultiplyMethod

    @field_validator("levels", "treatments")
    @classmethod
    def _five(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != list(LEVELS) or not all(v.strip() for v in value.values()):
            raise ValueError(t("risk.schema.text_per_level"))
        return value

    @field_validator("severity_map")
    @classmethod
    def _severity(cls, value: dict[str, int]) -> dict[str, int]:
        order = ["info", "low", "medium", "high", "critical"]
        if sorted(value) != sorted(order):
            raise ValueError(t("risk.schema.severity_keys"))
        mapped = [value[k] for k in order]
        if any(not 1 <= v <= 5 for v in mapped) or mapped != sorted(mapped):
            raise ValueError(t("risk.schema.severity_values"))
        return value

    @field_validator("bearing_matrix")
    @classmethod
    def _bearing(cls, values: list[list[int]]) -> list[list[int]]:
        values = _check_square(values, "bearing_matrix")
        if any(v > 5 for row in values for v in row):
            raise ValueError(t("risk.schema.bearing_range"))
        return values

    def level_name(self, level: int) -> str:
        """The Chinese name of a level (很高 … 很低)."""
        return self.levels[level]


class Threat(_Strict):
    """A catalogue threat (source, actor, kind, motive, timing, frequency, capability)."""

    id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    source: str
    actor: str
    kind: str
    motive: str
    timing: str
    frequency: int = Field(ge=1, le=5)
    capability: int | None = Field(default=None, ge=1, le=5)
    exploits: list[str]
    disabled: bool = False


class MatchRule(_Strict):
    """Conditions (all must hold) under which a finding belongs to a class."""

    source: str | None = None
    check: str | None = None
    keywords: list[str] = []
    cwe: list[int] = []
    has_cve: bool | None = None
    has_url: bool | None = None


class VulnClass(_Strict):
    """A vulnerability class: technical or management, with its matching rules."""

    id: str
    name: str
    type: Literal["technical", "management"]
    match: list[MatchRule] = []


class VulnClasses(_Strict):
    """All classes in matching order, and the class of findings no rule matches."""

    fallback: str
    classes: list[VulnClass]

    @model_validator(mode="after")
    def _known_fallback(self) -> VulnClasses:
        ids = [c.id for c in self.classes]
        if len(set(ids)) != len(ids):
            raise ValueError(t("risk.schema.duplicate_class"))
        if self.fallback not in ids:
            raise ValueError(t("risk.schema.fallback", cls=self.fallback))
        return self

    def get(self, class_id: str) -> VulnClass | None:
        """The class with that id."""
        return next((c for c in self.classes if c.id == class_id), None)


class ThreatCatalogue(_Strict):
    """The shipped threats."""

    threats: list[Threat]


def _read_yaml(text: str, source: str) -> Any:
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ValidationError(t("risk.config.too_large", source=source, limit=MAX_BYTES))
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        if mark is not None:
            raise ValidationError(
                t("risk.config.yaml_at", source=source, line=mark.line + 1, detail=problem)
            ) from None
        raise ValidationError(t("risk.config.yaml", source=source, detail=problem)) from None


_SCHEMA_KEYS = {
    "less_than_equal": ("le", "risk.schema.le"),
    "less_than": ("lt", "risk.schema.lt"),
    "greater_than_equal": ("ge", "risk.schema.ge"),
    "greater_than": ("gt", "risk.schema.gt"),
    "literal_error": ("expected", "risk.schema.literal"),
}
_SCHEMA_PLAIN = {
    "missing": "risk.schema.missing",
    "extra_forbidden": "risk.schema.extra",
    "int_parsing": "risk.schema.int",
    "int_type": "risk.schema.int",
    "int_from_float": "risk.schema.int",
    "float_parsing": "risk.schema.number",
    "float_type": "risk.schema.number",
    "bool_parsing": "risk.schema.bool",
    "bool_type": "risk.schema.bool",
    "string_type": "risk.schema.text",
    "string_too_short": "risk.schema.text",
    "string_too_long": "risk.schema.too_long",
    "list_type": "risk.schema.list",
    "dict_type": "risk.schema.mapping",
    "model_type": "risk.schema.mapping",
}


def schema_detail(error: ErrorDetails) -> str:
    """One schema error in the user's language (the validator's own text for value errors)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in {"value_error", "assertion_error"} and "error" in ctx:
        return str(ctx["error"])
    if kind in _SCHEMA_KEYS:
        name, key = _SCHEMA_KEYS[kind]
        return t(key, limit=ctx.get(name, "?"))
    if kind in _SCHEMA_PLAIN:
        return t(_SCHEMA_PLAIN[kind])
    return error["msg"]


def schema_where(error: ErrorDetails) -> str:
    """Where the error is, as a dotted path (``matrix.risk.bands``)."""
    return error_location(error["loc"])


def _schema_error(exc: SchemaError, source: str) -> ValidationError:
    first = exc.errors()[0]
    return ValidationError(
        t(
            "risk.config.field",
            source=source,
            field=schema_where(first),
            detail=schema_detail(first),
        )
    )


def _packaged(name: str) -> str:
    return resources.files("shaobing.assess.risk").joinpath("data", name).read_text("utf-8")


@cache
def _default_method_data() -> dict[str, Any]:
    data = _read_yaml(_packaged("method.yaml"), "method.yaml")
    assert isinstance(data, dict)
    return data


def deep_merge(base: dict[Any, Any], override: dict[Any, Any]) -> dict[Any, Any]:
    """``override`` merged onto ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for raw_key, value in override.items():
        # YAML writes level keys either as 1 or "1"; both mean the same level.
        key = int(raw_key) if isinstance(raw_key, str) and raw_key.isdigit() else raw_key
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str, source: str) -> dict[str, Any]:
    """A partial method file: safe YAML mapping, valid once merged onto the defaults."""
    data = _read_yaml(text, source)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(t("risk.config.not_mapping", source=source))
    method_config(data, source=source)
    return data


def read_override_file(path: Path) -> dict[str, Any]:
    """Read and check an override file given on the command line."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValidationError(t("risk.config.too_large", source=path, limit=MAX_BYTES))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(t("risk.config.unreadable", source=path, detail=exc)) from None
    return parse_override(text, str(path))


def method_config(*overrides: dict[str, Any], source: str = "method.yaml") -> MethodConfig:
    """The shipped method parameters with ``overrides`` merged on in order, validated."""
    data = _default_method_data()
    for override in overrides:
        data = deep_merge(data, override)
    try:
        return MethodConfig.model_validate(data)
    except SchemaError as exc:
        raise _schema_error(exc, source) from None


@cache
def default_method() -> MethodConfig:
    """The shipped method parameters."""
    return method_config()


@cache
def vuln_classes() -> VulnClasses:
    """The shipped vulnerability classes."""
    try:
        return VulnClasses.model_validate(_read_yaml(_packaged("vuln_classes.yaml"), "vuln"))
    except SchemaError as exc:
        raise _schema_error(exc, "vuln_classes.yaml") from None


@cache
def threat_catalogue() -> tuple[Threat, ...]:
    """The shipped threats, each checked to exploit only known classes."""
    try:
        catalogue = ThreatCatalogue.model_validate(_read_yaml(_packaged("threats.yaml"), "t"))
    except SchemaError as exc:
        raise _schema_error(exc, "threats.yaml") from None
    known = {c.id for c in vuln_classes().classes}
    for threat in catalogue.threats:
        unknown = [e for e in threat.exploits if e not in known]
        if unknown:
            raise ValidationError(
                t("risk.config.unknown_class", source="threats.yaml", cls=", ".join(unknown))
            )
    return tuple(catalogue.threats)


def rule_matches(
    rule: MatchRule,
    *,
    source_tool: str,
    check_id: str,
    title: str,
    cwe: list[int],
    cve: bool,
    url: bool,
) -> str | None:
    """Why a finding with these attributes satisfies every condition of ``rule`` (None: no)."""
    reasons: list[str] = []
    if rule.source is not None:
        if not fnmatch.fnmatchcase(source_tool.lower(), rule.source):
            return None
        reasons.append(t("risk.match.source", source=source_tool))
    if rule.check is not None:
        if not fnmatch.fnmatchcase(check_id.lower(), rule.check.lower()):
            return None
        reasons.append(t("risk.match.check", check=rule.check))
    if rule.keywords:
        text = f"{title} {check_id}".lower()
        word = next((k for k in rule.keywords if k.lower() in text), None)
        if word is None:
            return None
        reasons.append(t("risk.match.keyword", word=word))
    if rule.cwe:
        common = sorted(set(rule.cwe) & set(cwe))
        if not common:
            return None
        reasons.append(t("risk.match.cwe", cwe=common[0]))
    if rule.has_cve is not None:
        if rule.has_cve != cve:
            return None
        reasons.append(t("risk.match.cve" if cve else "risk.match.no_cve"))
    if rule.has_url is not None:
        if rule.has_url != url:
            return None
        reasons.append(t("risk.match.url" if url else "risk.match.no_url"))
    return "，".join(reasons) or t("risk.match.any")
