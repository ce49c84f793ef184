"""The requirement catalogue (``data/catalogue_l3.yaml`` and optional extension packs).

Each item carries its GB/T 22239-2019 clause (``8.1.4.1a`` for 8.1.4.1 a)), its GB/T 28448-2019
unit id, an importance weight (关键/重要/一般), a paraphrase in the project's own words, and
the kinds of assessment object it applies to. The files are validated when loaded: unique ids,
ids that belong to their control point's clause, known object types and weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shaobing.assess.mlps import datafiles
from shaobing.core.errors import ValidationError as UserError
from shaobing.core.i18n import t

#: Kinds of assessment object (测评对象) the catalogue refers to.
OBJECT_TYPES = (
    "physical_room",
    "network_device",
    "security_device",
    "host",
    "database",
    "middleware",
    "application",
    "management_center",
    "management_document",
)
ObjectType = Literal[
    "physical_room",
    "network_device",
    "security_device",
    "host",
    "database",
    "middleware",
    "application",
    "management_center",
    "management_document",
]
Weight = Literal["关键", "重要", "一般"]
SUPPORTED_LEVELS = (3,)
_ITEM_ID = re.compile(r"^(\d+(?:\.\d+)+)([a-z])$")
_UNIT_ID = re.compile(r"^L\d-[A-Z]{3}\d-\d{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemSpec(_Strict):
    """One requirement item as written in the file."""

    id: str
    unit: str
    weight: Weight
    text: str = Field(min_length=4)
    objects: tuple[ObjectType, ...] | None = None


class ControlPointSpec(_Strict):
    """One control point (安全控制点)."""

    clause: str
    name: str
    advice: str
    objects: tuple[ObjectType, ...] = ()
    items: list[ItemSpec] = Field(min_length=1)


class CategorySpec(_Strict):
    """One category (安全类)."""

    id: str = Field(pattern=r"^[A-Z]{3}$")
    name: str
    clause: str
    kind: Literal["technical", "management"]
    control_points: list[ControlPointSpec] = Field(min_length=1)


class CatalogueFile(_Strict):
    """A catalogue file: the general requirements or one extension pack."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(alias="schema", ge=1, le=1)
    pack: str = Field(pattern=r"^[a-z]+$")
    level: int
    title: str
    categories: list[CategorySpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueFile:
        seen_ids: set[str] = set()
        seen_units: set[str] = set()
        for category in self.categories:
            for point in category.control_points:
                if not point.clause.startswith(category.clause + "."):
                    raise ValueError(f"control point {point.clause} is not under {category.clause}")
                for item in point.items:
                    match = _ITEM_ID.match(item.id)
                    if match is None or match.group(1) != point.clause:
                        raise ValueError(f"item {item.id} does not belong to {point.clause}")
                    if not _UNIT_ID.match(item.unit) or not item.unit.startswith(
                        f"L{self.level}-{category.id}"
                    ):
                        raise ValueError(f"item {item.id}: unit id {item.unit} is malformed")
                    if item.id in seen_ids:
                        raise ValueError(f"duplicate item id {item.id}")
                    if item.unit in seen_units:
                        raise ValueError(f"duplicate unit id {item.unit}")
                    if not (item.objects or point.objects):
                        raise ValueError(f"item {item.id} names no object type")
                    seen_ids.add(item.id)
                    seen_units.add(item.unit)
        return self


@dataclass(frozen=True)
class Item:
    """A requirement item with its place in the catalogue resolved."""

    id: str
    unit: str
    weight: Weight
    text: str
    objects: tuple[str, ...]
    category: str
    category_id: str
    kind: str
    control_point: str
    control_point_clause: str
    advice: str
    pack: str

    @property
    def label(self) -> str:
        """The clause as written in the standard, e.g. ``8.1.4.1 a)``."""
        return f"{self.id[:-1]} {self.id[-1]})"

    def applies_to(self, object_type: str) -> bool:
        """Whether the item is assessed on objects of this type."""
        return object_type in self.objects


@dataclass(frozen=True)
class ControlPoint:
    """A control point and its items, in catalogue order."""

    clause: str
    name: str
    category: str
    advice: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Category:
    """A category and its control points, in catalogue order."""

    id: str
    name: str
    clause: str
    kind: str
    control_points: tuple[ControlPoint, ...]


class Catalogue:
    """The loaded catalogue of one level, with the selected extension packs."""

    def __init__(self, level: int, files: list[CatalogueFile]) -> None:
        self.level = level
        self.packs = tuple(f.pack for f in files)
        self.categories: list[Category] = []
        self.items: dict[str, Item] = {}
        self._by_unit: dict[str, Item] = {}
        # A pack's control points join the general category of the same id (an extension's
        # 安全计算环境 points are part of 安全计算环境), so score and gaps count a category once.
        order: list[str] = []
        heads: dict[str, CategorySpec] = {}
        merged: dict[str, list[ControlPoint]] = {}
        for spec in files:
            for cat in spec.categories:
                if cat.id not in heads:
                    order.append(cat.id)
                    heads[cat.id] = cat
                    merged[cat.id] = []
                head = heads[cat.id]
                for point in cat.control_points:
                    items = tuple(
                        Item(
                            id=item.id,
                            unit=item.unit,
                            weight=item.weight,
                            text=item.text,
                            objects=tuple(item.objects or point.objects),
                            category=head.name,
                            category_id=head.id,
                            kind=head.kind,
                            control_point=point.name,
                            control_point_clause=point.clause,
                            advice=point.advice,
                            pack=spec.pack,
                        )
                        for item in point.items
                    )
                    for item_ in items:
                        if item_.id in self.items:
                            raise UserError(t("mlps.catalogue.duplicate", item=item_.id))
                        self.items[item_.id] = item_
                        self._by_unit[item_.unit] = item_
                    merged[cat.id].append(
                        ControlPoint(point.clause, point.name, head.name, point.advice, items)
                    )
        self.categories = [
            Category(heads[i].id, heads[i].name, heads[i].clause, heads[i].kind, tuple(merged[i]))
            for i in order
        ]

    @property
    def control_points(self) -> list[ControlPoint]:
        """Every control point in catalogue order."""
        return [p for c in self.categories for p in c.control_points]

    def item(self, ref: str) -> Item:
        """An item by clause (``8.1.4.1a``, ``8.1.4.1 a)``) or unit id; one-line error if not."""
        key = normalise_item_ref(ref)
        found = self.items.get(key) or self._by_unit.get(ref.strip().upper())
        if found is None:
            raise UserError(t("mlps.catalogue.unknown_item", item=ref))
        return found

    def items_for(self, object_type: str) -> list[Item]:
        """Items assessed on objects of ``object_type``, in catalogue order."""
        return [i for i in self.items.values() if i.applies_to(object_type)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Control points and items per category (for reports and tests)."""
        return {
            c.name: {
                "control_points": len(c.control_points),
                "items": sum(len(p.items) for p in c.control_points),
            }
            for c in self.categories
        }


def normalise_item_ref(ref: str) -> str:
    """``8.1.4.1 a)``, ``8.1.4.1-a``, ``8.1.4.1A`` → ``8.1.4.1a``."""
    text = ref.strip().replace("）", ")").replace("（", "(")
    match = re.match(r"^(\d+(?:\.\d+)+)\s*[-_ ]?\(?([a-zA-Z])\)?$", text)
    if match is None:
        return text
    return f"{match.group(1)}{match.group(2).lower()}"


def available_packs(level: int) -> list[str]:
    """Extension packs shipped for ``level`` (files ``catalogue_l<level>_<pack>.yaml``)."""
    prefix = f"catalogue_l{level}_"
    return [
        n[len(prefix) : -len(".yaml")] for n in datafiles.packaged_names() if n.startswith(prefix)
    ]


def load_catalogue(level: int = 3, packs: tuple[str, ...] | list[str] = ()) -> Catalogue:
    """The general requirements of ``level`` plus the named extension packs, validated."""
    if level not in SUPPORTED_LEVELS:
        raise UserError(
            t(
                "mlps.catalogue.unsupported_level",
                level=level,
                levels="、".join(map(str, SUPPORTED_LEVELS)),
            )
        )
    known = available_packs(level)
    files = [datafiles.load(f"catalogue_l{level}.yaml", CatalogueFile)]
    for pack in packs:
        if pack not in known:
            raise UserError(
                t("mlps.catalogue.unknown_pack", pack=pack, known="、".join(known) or "-")
            )
        files.append(datafiles.load(f"catalogue_l{level}_{pack}.yaml", CatalogueFile))
    for spec in files:
        if spec.level != level:
            raise UserError(t("mlps.catalogue.level_mismatch", pack=spec.pack, level=spec.level))
    return Catalogue(level, files)
