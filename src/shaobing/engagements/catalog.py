"""The service-item, deliverable and SLA catalogue shipped as data (service_items.yaml)."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Frequency(StrEnum):
    """How often a service item recurs."""

    ONCE = "once"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"
    ON_DEMAND = "on_demand"


class ItemSpec(BaseModel):
    """A kind of service item."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    default_frequency: Frequency
    deliverable: str


class SlaSpec(BaseModel):
    """A default SLA term."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    minutes: int = Field(gt=0)


class Catalog(BaseModel):
    """The whole catalogue, validated at load."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    items: dict[str, ItemSpec]
    deliverables: dict[str, str]
    default_months: dict[Frequency, list[int]]
    sla: dict[str, SlaSpec]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        for key, item in self.items.items():
            if item.deliverable not in self.deliverables:
                raise ValueError(f"item {key}: unknown deliverable {item.deliverable}")
        for freq, months in self.default_months.items():
            if not months or any(not 1 <= m <= 12 for m in months):
                raise ValueError(f"default_months.{freq}: months must be 1-12")
        return self


@cache
def catalog() -> Catalog:
    """Load and validate the catalogue once."""
    text = (
        resources.files("shaobing.engagements")
        .joinpath("service_items.yaml")
        .read_text(encoding="utf-8")
    )
    return Catalog.model_validate(yaml.safe_load(text))
