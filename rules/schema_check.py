"""JSON Schema validation of rule files, with errors at the YAML position of the culprit.

The same schema (`rules/schema/rules.schema.json`) drives editors' completion, so what the
editor underlines and what `loyalty rules check` prints come from one source.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from rules.errors import RuleError
from rules.fastschema import Check, compile_schema
from rules.yamlsource import Document

SCHEMA_DIR = Path(__file__).parent / "schema"


@cache
def _schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(name))


@cache
def gate(name: str) -> Check:
    return compile_schema(_schema(name))


def check(doc: Document, schema_name: str = "rules") -> tuple[list[RuleError], set[tuple]]:
    """Schema errors of one document, and the paths of the items (rules, tiers...) they fall in."""
    data = doc.data if doc.data is not None else {}
    if gate(schema_name)(data):
        return [], set()
    errors: list[RuleError] = []
    bad_items: set[tuple] = set()
    for err in validator(schema_name).iter_errors(data):
        for leaf in _leaves(err):
            path = tuple(leaf.absolute_path)
            owner, label = _owner(data, path)
            if owner:
                bad_items.add(owner)
            errors.append(_to_rule_error(doc, leaf, path, owner, label))
    return errors, bad_items


def _leaves(err: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf, the errors of the branch that has the instance's type, if any."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        typed = [c for c in err.context if c.validator not in ("type", "const", "enum")]
        if typed:
            result: list[ValidationError] = []
            for sub in typed:
                result.extend(_leaves(sub))
            return result
    return [err]


def _owner(data: Any, path: tuple) -> tuple[tuple, str]:
    if len(path) >= 2 and path[0] in ("rules", "tiers", "rewards") and isinstance(path[1], int):
        item = data.get(path[0], [])[path[1]] if isinstance(data, dict) else None
        key = "name" if path[0] == "tiers" else "id"
        name = item.get(key) if isinstance(item, dict) else None
        kind = path[0][:-1]
        return path[:2], f"{kind} '{name}'" if isinstance(name, str) else f"{kind} #{path[1] + 1}"
    return (), ""


def _dotted(path: tuple, skip: int) -> str:
    out = ""
    for part in path[skip:]:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _to_rule_error(doc: Document, err: ValidationError, path: tuple, owner: tuple, label: str) -> RuleError:
    where = _dotted(path, len(owner))
    prefix = ", ".join(p for p in (label, where) if p)
    prefix = f"{prefix}: " if prefix else ""
    rule_id = None
    if owner and owner[0] == "rules":
        item = doc.data["rules"][owner[1]]
        rule_id = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = sorted(schema.get("properties", {}))
        extra = [k for k in err.instance if k not in known]
        key = extra[0] if extra else None
        hint = f" (expected one of: {', '.join(known)})" if known else ""
        return doc.error(path, f"{prefix}unknown key '{key}'{hint}", rule_id, key=key)
    if err.validator == "required":
        return doc.error(path, f"{prefix}{err.message.replace('is a required property', 'is missing')}", rule_id)
    if err.validator == "type":
        expected = err.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        article = "an" if str(expected)[0] in "aeio" else "a"
        return doc.error(path, f"{prefix}expected {article} {expected}, got {_show(err.instance)}", rule_id)
    if err.validator == "enum":
        options = ", ".join(str(v) for v in err.validator_value)
        return doc.error(path, f"{prefix}{_show(err.instance)} is not one of: {options}", rule_id)
    if err.validator == "pattern":
        hint = schema.get("description") or f"pattern {err.validator_value}"
        return doc.error(path, f"{prefix}{_show(err.instance)} is not valid here: {hint}", rule_id)
    if err.validator in ("oneOf", "anyOf"):
        hint = schema.get("description") or "see docs/rules.md"
        return doc.error(path, f"{prefix}{_show(err.instance)} does not fit: {hint}", rule_id)
    if err.validator in ("maxProperties", "minProperties") and "then" in path[-1:]:
        return doc.error(path, f"{prefix}give exactly one effect: points, discount, free_shipping or suggest", rule_id)
    return doc.error(path, f"{prefix}{err.message}", rule_id)


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list) else json.dumps(value, default=str)
    return text if len(text) < 60 else text[:57] + "..."
