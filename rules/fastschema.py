"""A yes/no JSON Schema check compiled to closures, for the subset our schemas use.

jsonschema takes ~0.9 s on a 5,000-rule folder; this gate takes a fraction of that. It only
answers "valid?": when it says no, `schema_check` runs jsonschema for the precise errors, so
error messages always come from the reference implementation. A keyword it does not know
makes compilation fail loudly rather than being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_IGNORED = {"$schema", "$id", "$defs", "title", "description", "default", "examples"}


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float)
    raise ValueError(f"unknown JSON Schema type {name}")


def compile_schema(root: dict) -> Check:
    refs: dict[str, Check] = {}

    def ref(pointer: str) -> Check:
        if pointer not in refs:
            if not pointer.startswith("#/$defs/"):
                raise ValueError(f"unsupported $ref {pointer}")
            refs[pointer] = lambda v: True  # placeholder for recursion
            refs[pointer] = build(root["$defs"][pointer[len("#/$defs/") :]])
        target = pointer
        return lambda v: refs[target](v)

    def build(schema: dict | bool) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        checks: list[Check] = []
        for key, arg in schema.items():
            if key in _IGNORED or key in ("properties", "additionalProperties"):
                continue
            checks.append(_keyword(key, arg, schema, build, ref))
        if "properties" in schema or "additionalProperties" in schema:
            checks.append(_properties(schema, build))
        return lambda v: all(check(v) for check in checks)

    return build(root)


def _keyword(key: str, arg: Any, schema: dict, build, ref) -> Check:  # noqa: C901 - one branch per keyword
    if key == "$ref":
        return ref(arg)
    if key == "type":
        names = arg if isinstance(arg, list) else [arg]
        return lambda v: any(_is_type(v, n) for n in names)
    if key == "enum":
        return lambda v: any(v == e and isinstance(v, bool) == isinstance(e, bool) for e in arg)
    if key == "const":
        return lambda v: v == arg and isinstance(v, bool) == isinstance(arg, bool)
    if key == "pattern":
        rx = re.compile(arg)
        return lambda v: not isinstance(v, str) or rx.search(v) is not None
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        ops = {
            "minimum": lambda v: v >= arg,
            "maximum": lambda v: v <= arg,
            "exclusiveMinimum": lambda v: v > arg,
            "exclusiveMaximum": lambda v: v < arg,
        }
        op = ops[key]
        return lambda v: not _is_type(v, "number") or op(v)
    if key in ("minLength", "maxLength"):
        op = (lambda n: n >= arg) if key == "minLength" else (lambda n: n <= arg)
        return lambda v: not isinstance(v, str) or op(len(v))
    if key in ("minItems", "maxItems"):
        op = (lambda n: n >= arg) if key == "minItems" else (lambda n: n <= arg)
        return lambda v: not isinstance(v, list) or op(len(v))
    if key in ("minProperties", "maxProperties"):
        op = (lambda n: n >= arg) if key == "minProperties" else (lambda n: n <= arg)
        return lambda v: not isinstance(v, dict) or op(len(v))
    if key == "required":
        return lambda v: not isinstance(v, dict) or all(k in v for k in arg)
    if key == "items":
        item = build(arg)
        return lambda v: not isinstance(v, list) or all(item(x) for x in v)
    if key == "propertyNames":
        name = build(arg)
        return lambda v: not isinstance(v, dict) or all(name(k) for k in v)
    if key == "oneOf":
        options = [build(s) for s in arg]
        return lambda v: sum(1 for o in options if o(v)) == 1
    if key == "anyOf":
        options = [build(s) for s in arg]
        return lambda v: any(o(v) for o in options)
    raise ValueError(f"fastschema does not support the keyword {key!r}")


def _properties(schema: dict, build) -> Check:
    props = {k: build(s) for k, s in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    extra_check = build(extra) if isinstance(extra, dict) else None

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for k, x in v.items():
            c = props.get(k)
            if c is not None:
                if not c(x):
                    return False
            elif extra is False:
                return False
            elif extra_check is not None and not extra_check(x):
                return False
        return True

    return check
