"""Custom customer attributes and experiment variants, as facts and as checked input.

The rule files declare each attribute's type (`customer_attributes`); the service stores a
customer's values as JSON and checks them here, against the version in force, before
writing (`attribute_errors`). A value the declarations no longer cover (an attribute
removed from the files) is simply not seen by the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from rules.conditions import attribute_field
from rules.experiments import variant_of
from rules.facts import SENTINEL
from rules.model import AttributeType, Settings

MAX_STRING = 200
"""Longest text attribute value: segments and codes, not documents."""


def variants(settings: Settings, customer_id: str) -> dict[str, str]:
    return {experiment.id: variant_of(experiment, customer_id) for experiment in settings.experiments.values()}


def fields(settings: Settings, attributes: Mapping[str, object], chosen: Mapping[str, str]) -> dict[str, Any]:
    """Fact fields: `a:<name>` per declared attribute the customer has, `x:<experiment>`."""
    out: dict[str, Any] = {f"x:{experiment}": [variant, SENTINEL] for experiment, variant in chosen.items()}
    for name, declared in settings.attributes.items():
        value = attributes.get(name)
        if value is None or _problem(declared, value) is not None:
            continue
        field = attribute_field(name)
        if declared.kind == "boolean":
            out[field] = 1 if value else 0
        elif declared.kind in ("string", "one_of"):
            out[field] = [value, SENTINEL]
        elif declared.kind == "date":
            day = date.fromisoformat(str(value))
            out[field] = day.toordinal()
            out[f"{field}:month"] = [day.month, 0]
        else:
            out[field] = value
    return out


def attribute_errors(settings: Settings, attributes: Mapping[str, object]) -> list[tuple[str, str]]:
    """(name, message) per value that is unknown or of the wrong type; `None` unsets."""
    errors = []
    declared = settings.attributes
    for name, value in attributes.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none are declared"
            errors.append((name, f"unknown customer attribute '{name}' (the rule files declare: {known})"))
        elif value is not None and (problem := _problem(declared[name], value)) is not None:
            errors.append((name, f"customer attribute '{name}' {problem}"))
    return errors


def _problem(declared: AttributeType, value: object) -> str | None:
    kind = declared.kind
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53
        return None if ok else "must be a whole number"
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 2**53
        return None if ok else "must be a number"
    if kind == "date":
        if isinstance(value, str) and len(value) == 10:
            try:
                date.fromisoformat(value)
                return None
            except ValueError:
                pass
        return "must be a date (YYYY-MM-DD)"
    if not isinstance(value, str) or not value or len(value) > MAX_STRING:
        return f"must be a text of 1 to {MAX_STRING} characters"
    if kind == "one_of" and value not in declared.choices:
        return f"must be one of {', '.join(declared.choices)}"
    return None
