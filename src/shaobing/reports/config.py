"""Report configuration: the report types, the organisation's branding, template lookup.

Everything a user may change lives under ``$SHAOBING_HOME/reports/``:
``branding.yaml`` (vendor, logo, confidentiality mark, numbering scheme), ``templates/TYPE.md.j2``
(the text and order of a report's sections) and ``reference.docx`` (Word styles). The packaged
files are the defaults.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shaobing.core import datafile
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

NUMBER_FIELDS = frozenset(
    {"vendor", "client", "engagement", "code", "year", "month", "period", "seq"}
)
FOOTER_FIELDS = frozenset({"vendor", "title", "client", "report_no"})


class ReportType(BaseModel):
    """One report type of ``data/types.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    code: str = Field(pattern=r"^[A-Z0-9]{2,8}$")
    deliverable: str
    builder: str
    period: Literal["required", "optional", "none"]
    description: str


class TypeCatalogue(BaseModel):
    """The report types by name."""

    model_config = ConfigDict(extra="forbid")

    types: dict[str, ReportType]


def _check_format(value: str, allowed: frozenset[str], what: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc
    unknown = {n.split(".")[0].split("[")[0] for n in names} - allowed
    if unknown or any(not n for n in names):
        raise ValueError(f"{what}: unknown placeholder {sorted(unknown) or ['{}']}")
    return value


class Branding(BaseModel):
    """The organisation's branding of its reports."""

    model_config = ConfigDict(extra="forbid")

    vendor: str = Field(min_length=1, max_length=100)
    vendor_short: str = Field(min_length=1, max_length=20)
    logo: Path | None = None
    confidentiality: str = Field(max_length=40)
    numbering: str = Field(min_length=1, max_length=120)
    author: str | None = None
    reviewer: str | None = None
    footer: str = ""

    @field_validator("numbering")
    @classmethod
    def _numbering(cls, value: str) -> str:
        _check_format(value, NUMBER_FIELDS, "numbering")
        if "{seq" not in value:
            raise ValueError("numbering must contain {seq}")
        return value

    @field_validator("footer")
    @classmethod
    def _footer(cls, value: str) -> str:
        return _check_format(value, FOOTER_FIELDS, "footer")


@cache
def report_types() -> TypeCatalogue:
    """The packaged report types."""
    text = resources.files("shaobing.reports").joinpath("data", "types.yaml").read_text("utf-8")
    return datafile.parse_yaml("reports/data/types.yaml", text, TypeCatalogue, label=_label())


def report_type(name: str) -> ReportType:
    """One report type by name; unknown names list the known ones."""
    types = report_types().types
    if name not in types:
        raise NotFoundError(t("reports.unknown_type", name=name, known=", ".join(types)))
    return types[name]


def _label() -> str:
    return t("reports.config_label")


def reports_home() -> Path:
    """Where the organisation's report files live (``$SHAOBING_HOME/reports``)."""
    return get_settings().home / "reports"


def load_branding() -> Branding:
    """The organisation's branding when ``branding.yaml`` exists there, else the packaged one."""
    override = reports_home() / "branding.yaml"
    if override.is_file():
        branding = datafile.parse_yaml(
            str(override), datafile.read_text(override, label=_label()), Branding, label=_label()
        )
        if branding.logo is not None:
            logo = branding.logo if branding.logo.is_absolute() else override.parent / branding.logo
            if not logo.is_file():
                raise ValidationError(t("reports.logo_missing", path=str(logo)))
            branding = branding.model_copy(update={"logo": logo})
        return branding
    text = resources.files("shaobing.reports").joinpath("data", "branding.yaml").read_text("utf-8")
    return datafile.parse_yaml("reports/data/branding.yaml", text, Branding, label=_label())


def template_source(name: str) -> tuple[str, str]:
    """The template text of report type ``name`` and where it came from (override first)."""
    override = reports_home() / "templates" / f"{name}.md.j2"
    if override.is_file():
        return datafile.read_text(override, label=t("reports.template_label")), str(override)
    packaged = resources.files("shaobing.reports").joinpath("templates", f"{name}.md.j2")
    if not packaged.is_file():
        raise NotFoundError(t("reports.no_template", name=name))
    return packaged.read_text("utf-8"), f"templates/{name}.md.j2"


def reference_docx() -> Path | None:
    """The organisation's Word style reference document, when it has one."""
    path = reports_home() / "reference.docx"
    return path if path.is_file() else None
