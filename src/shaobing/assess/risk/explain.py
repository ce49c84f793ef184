"""Every computed value explains itself: the inputs, the table cells and the bands used."""

from __future__ import annotations

from typing import Any

from shaobing.assess.risk.calc import Step
from shaobing.assess.risk.config import MethodConfig
from shaobing.assess.risk.evaluate import Risk
from shaobing.core.i18n import t


def num(value: Any) -> str:
    """A number as written in the tables: integers without decimals."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)


def _level(level: int, config: MethodConfig) -> str:
    return t("risk.explain.level", level=level, name=config.level_name(level))


def render(step: Step, config: MethodConfig) -> str:
    """One step as a sentence."""
    p = {
        k: num(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for k, v in step.params.items()
    }
    if step.key == "matrix_cell":
        p["table"] = t(f"risk.table.{step.params['table']}")
    elif step.key == "band":
        p["table"] = t(f"risk.band.{step.params['table']}")
        p["level"] = _level(int(step.params["level"]), config)
    elif step.key == "formula":
        p["what"] = t(f"risk.what.{step.params['what']}")
        p["expr"] = t(f"risk.fn.{step.params['fn']}", x=p["x"], y=p["y"])
    elif step.key == "cut":
        p["what"] = t(f"risk.what.{step.params['what']}")
    elif step.key == "vuln_finding":
        p["severity"] = t(f"findings.severity.{step.params['severity']}")
    return t(f"risk.explain.{step.key}", **p)


def cells(risk: Risk) -> list[dict[str, Any]]:
    """The table cells the calculation read (matrix method)."""
    return [
        {k: s.params[k] for k in ("table", "row", "r", "col", "c", "value")}
        for s in risk.result.steps
        if s.key == "matrix_cell"
    ]


def explain(risk: Risk, config: MethodConfig) -> dict[str, Any]:
    """The explanation of one risk, grouped by input and by calculation step."""
    measures = [
        t(
            "risk.explain.measure",
            kind=t("risk.measure_type.preventive"),
            name=m.name,
            what=t("risk.what.likelihood"),
            effect=m.effect,
        )
        for m in risk.preventive
    ] + [
        t(
            "risk.explain.measure",
            kind=t("risk.measure_type.protective"),
            name=m.name,
            what=t("risk.what.loss"),
            effect=m.effect,
        )
        for m in risk.protective
    ]
    return {
        "asset": [render(s, config) for s in risk.target.steps],
        "threat": [
            t("risk.explain.threat", id=risk.threat.threat.id, name=risk.threat.threat.name),
            render(risk.threat.step, config),
        ],
        "vulnerability": [render(s, config) for s in risk.vulnerability.steps],
        "measures": measures,
        "calculation": [render(s, config) for s in risk.result.steps],
        "cells": cells(risk),
    }
