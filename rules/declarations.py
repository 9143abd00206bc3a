"""Program-wide declarations a rule refers to, and the checks no schema can make on them:
the time zone, customer attributes, experiments; `when` trees with any/all/not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from rules.model import ORDER, AttributeType, Experiment
from rules.value_lists import is_long
from rules.yamlsource import Document

if TYPE_CHECKING:
    from rules.parse import _Parser

MAX_DEPTH = 3
"""any/all/not nest at most this deep (the schema says so too): each level can multiply the
alternatives durable-rules walks, and a marketer reading the rule should not need more."""


def time_zone(parser: _Parser, doc: Document | None, name: str) -> str:
    """An IANA zone the installed tz database (tzdata) knows; never a hand-typed list."""
    if doc is not None and name != "UTC" and name not in available_timezones():
        parser.err(
            doc,
            ("program", "time_zone"),
            f"time zone '{name}' is not an IANA time zone name (for example Europe/Paris, America/New_York, UTC)",
        )
        return "UTC"
    return name


def attributes(declared: dict[str, Any]) -> dict[str, AttributeType]:
    out = {}
    for name, kind in declared.items():
        if isinstance(kind, dict):
            out[name] = AttributeType(name, "one_of", tuple(kind["one_of"]))
        else:
            out[name] = AttributeType(name, kind)
    return out


def experiments(parser: _Parser) -> dict[str, Experiment]:
    found: dict[str, Experiment] = {}
    for doc, path, item, _ in parser._items("experiments"):
        eid, shares = item["id"], item["variants"]
        if eid in found:
            parser.err(doc, path + ("id",), f"experiment '{eid}' is defined twice")
            continue
        if sum(shares.values()) != 100:
            parser.err(
                doc,
                path + ("variants",),
                f"experiment '{eid}': the variants' shares add up to {sum(shares.values())}; they must add up to 100",
            )
            continue
        found[eid] = Experiment(eid, tuple(shares.items()))
    return found


def walk(when: dict, path: tuple, depth: int = 0) -> Iterator[tuple[str, Any, tuple, int]]:
    """(section, its conditions, path, any/all/not depth) for every section in a `when` tree."""
    for key, value in when.items():
        if key == "not":
            yield from walk(value, path + (key,), depth + 1)
        elif key in ("any", "all"):
            for index, sub in enumerate(value):
                yield from walk(sub, path + (key, index), depth + 1)
        else:
            yield key, value, path + (key,), depth


def mentions(when: dict, section: str) -> bool:
    return any(key == section for key, *_ in walk(when, ()))


def check_when(parser: _Parser, doc: Document, path: tuple, item: dict) -> None:
    rid, on = item["id"], item.get("on", ORDER)
    attributes_declared = parser.spec.settings.attributes
    for section, spec, where, depth in walk(item.get("when", {}), path + ("when",)):
        if depth > MAX_DEPTH:
            parser.err(doc, where, f"rule '{rid}': any/all/not nest at most {MAX_DEPTH} deep", rid)
        if section == "time" and "between" in spec and depth:
            parser._window(doc, where + ("between",), spec["between"], rid)
        if depth and any(is_long(v) or (isinstance(v, dict) and _has_long(v)) for v in spec.values()):
            parser.err(
                doc,
                where,
                f"rule '{rid}': lists of more than 64 values only work outside any/all/not; move it to the top of when",
                rid,
            )
        if section in ("order", "cart") and on != ORDER and depth:
            parser.err(doc, where, f"rule '{rid}': {section} conditions only apply to rules on: order", rid)
        if section == "event" and on == ORDER and depth:
            parser.err(doc, where, f"rule '{rid}': event conditions need an event rule (on: <event type>)", rid)
        if section == "customer" and "attributes" in spec:
            for name, condition in spec["attributes"].items():
                if name not in attributes_declared and not parser.complete:
                    continue  # it may be declared in the file that could not be read
                problem = _attribute_condition(attributes_declared.get(name), name, condition)
                if problem:
                    parser.err(doc, where + ("attributes", name), f"rule '{rid}': {problem}", rid)
    experiment = item.get("experiment")
    if experiment:
        known = parser.spec.settings.experiments.get(experiment["id"])
        names = [name for name, _ in known.variants] if known else []
        if known is None and parser.complete:
            parser.err(doc, path + ("experiment", "id"), f"rule '{rid}': unknown experiment '{experiment['id']}'", rid)
        elif known is not None and experiment["variant"] not in names:
            parser.err(
                doc,
                path + ("experiment", "variant"),
                f"rule '{rid}': experiment '{known.id}' has no variant '{experiment['variant']}'"
                f" (variants: {', '.join(names)})",
                rid,
            )


def _has_long(spec: dict) -> bool:
    return any(is_long(v) for v in spec.values())


def _attribute_condition(declared: AttributeType | None, name: str, condition: Any) -> str | None:
    if declared is None:
        return f"unknown customer attribute '{name}'; declare it under customer_attributes"
    kind = declared.kind
    if kind == "boolean":
        return None if isinstance(condition, bool) else f"attribute '{name}' is a boolean: test it with true or false"
    if kind in ("string", "one_of"):
        values = condition if isinstance(condition, list) else [condition]
        if not all(isinstance(v, str) for v in values):
            return f"attribute '{name}' is text: test it with a value or a list of values"
        unknown = [v for v in values if kind == "one_of" and v not in declared.choices]
        return (
            f"attribute '{name}' is one of {', '.join(declared.choices)}, not {', '.join(unknown)}" if unknown else None
        )
    if kind == "date":
        if not isinstance(condition, dict) or any(
            op != "month" and not isinstance(v, str) for op, v in condition.items()
        ):
            return f"attribute '{name}' is a date: test it with month, or gte/lt... and dates (2026-03-01)"
        return None
    numeric = isinstance(condition, int | float) or (
        isinstance(condition, dict) and all(isinstance(v, int | float) and op != "month" for op, v in condition.items())
    )
    return None if numeric and not isinstance(condition, bool) else f"attribute '{name}' is a number: compare it"
