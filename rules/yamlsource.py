"""YAML rule files read as data, with every value's line and column kept.

Only `yaml.SafeLoader` machinery is used: a rule file can build strings, numbers, booleans,
lists and mappings, nothing else. Timestamps are left as strings so that the JSON Schema
sees what the marketer typed and the loader parses dates itself, at a known position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from rules.errors import RuleError

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


# libyaml's parser (10x faster on big folders) when PyYAML was built with it; same safe
# constructor and resolver either way.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# A guard against alias bombs ("billion laughs"): no legitimate rule file comes close.
_MAX_NODES = 2_000_000

Path = tuple[str | int, ...]


@dataclass
class Document:
    file: str
    root: yaml.Node | None
    data: Any

    def node_at(self, path: Iterable[str | int]) -> yaml.Node | None:
        """The deepest node that exists along `path` (the value, not the key)."""
        node = self.root
        for part in path:
            child = _child(node, part)
            if child is None:
                return node
            node = child
        return node

    def key_node(self, path: Iterable[str | int], key: str) -> yaml.Node | None:
        node = self.node_at(path)
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    return key_node
        return node

    def error(
        self, path: Iterable[str | int], message: str, rule_id: str | None = None, key: str | None = None
    ) -> RuleError:
        node = self.key_node(path, key) if key is not None else self.node_at(path)
        return error_at(self.file, node, message, rule_id)


def error_at(file: str, node: yaml.Node | None, message: str, rule_id: str | None) -> RuleError:
    if node is None:
        return RuleError(file, 1, 1, message, rule_id)
    mark = node.start_mark
    return RuleError(file, mark.line + 1, mark.column + 1, message, rule_id)


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


# libyaml composes nested collections recursively in C: ~30,000 levels (60 kB of "[[[...")
# overflow its stack and kill the process. No rule file nests more than a dozen levels.
_MAX_DEPTH = 200


_BRACKETS = re.compile(r"[\[{\]}]")
_DASHES = re.compile(rf"(?:-[ \t]+){{{_MAX_DEPTH + 1}}}")


_NOT_BRACKETS = re.compile(r"[^\[{\]}]+")
_ONE_KIND = str.maketrans("{}", "[]")


def _shallow(text: str) -> bool:
    """True when the brackets pair up and nest at most _MAX_DEPTH deep, found at C speed (a
    folder written in flow style has hundreds of thousands of brackets): each pass takes
    out the innermost pairs, so brackets nested d deep are gone after d passes."""
    brackets = _NOT_BRACKETS.sub("", text).translate(_ONE_KIND)
    for _ in range(_MAX_DEPTH):
        shorter = brackets.replace("[]", "")
        if shorter == brackets:
            break
        brackets = shorter
    return not brackets


def _too_deep(text: str) -> int | None:
    """Offset where flow brackets, or block sequences on one line ("- - - x"), nest past
    _MAX_DEPTH; None when nothing does."""
    if text.count("[") + text.count("{") > _MAX_DEPTH and not _shallow(text):
        depth = 0
        for match in _BRACKETS.finditer(text):
            depth += -1 if match.group() in "]}" else 1
            if depth > _MAX_DEPTH:
                return match.start()
    dashes = _DASHES.search(text)
    return dashes.end() if dashes else None


def parse(file: str, text: str) -> tuple[Document | None, list[RuleError]]:
    """Compose `text` into nodes and plain data; YAML syntax errors come back as RuleErrors."""
    deep = _too_deep(text)
    if deep is not None:
        line = text.count("\n", 0, deep) + 1
        col = deep - (text.rfind("\n", 0, deep) + 1) + 1
        return None, [RuleError(file, line, col, f"YAML syntax: nested more than {_MAX_DEPTH} levels deep")]
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        return None, [RuleError(file, line, col, f"YAML syntax: {problem}")]
    except yaml.YAMLError as exc:
        return None, [RuleError(file, 1, 1, f"YAML syntax: {exc}")]
    except RecursionError:
        return None, [RuleError(file, 1, 1, "YAML syntax: nested too deeply")]
    errors: list[RuleError] = []
    constructor = _Loader("")
    budget = [_MAX_NODES]
    try:
        data = _to_data(file, root, constructor, errors, budget) if root is not None else None
    except _TooBig as exc:
        message = f"YAML aliases expand to more than {_MAX_NODES:,} values here: rule files are plain data"
        return None, [error_at(file, exc.node, message, None)]
    except RecursionError:
        return None, [RuleError(file, 1, 1, "YAML syntax: nested too deeply")]
    return Document(file, root, data), errors


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def _to_data(file: str, node: yaml.Node, constructor: _Loader, errors: list[RuleError], budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(node)
    if node.tag not in _SAFE_TAGS:
        errors.append(error_at(file, node, f"unsupported YAML tag {node.tag}: rule files are plain data", None))
        return None
    if isinstance(node, yaml.ScalarNode):
        # a string is its text (SafeConstructor.construct_yaml_str): most scalars are
        return node.value if node.tag == _STR else constructor.construct_object(node)
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(file, item, constructor, errors, budget) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                errors.append(error_at(file, key_node, "a key must be a plain word", None))
                continue
            key = key_node.value
            if key in result:
                errors.append(error_at(file, key_node, f"duplicate key '{key}'", None))
            result[key] = _to_data(file, value_node, constructor, errors, budget)
        return result
    raise ValueError(f"unexpected YAML node {node!r}")


_STR = "tag:yaml.org,2002:str"
_SAFE_TAGS = {
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
