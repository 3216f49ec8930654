"""YAML loading that remembers where each value came from.

Validation errors must name the file, the line and the field ("runbooks/x.yaml:12: steps.2.kind:
..."). PyYAML's composed node tree knows every node's line; this module walks it once and keeps
a map from a value's path (as pydantic reports it in `loc`) to its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from upgrader.core import loaders
from upgrader.core.errors import UserError

Path_ = tuple[str | int, ...]
# libyaml's parser when PyYAML has it: the same node tree with the same marks, ~10x faster
# (the runbooks every plan loads cost ~1 s through the pure-Python parser on a loaded machine).
M = TypeVar("M", bound=BaseModel)


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _problem("a key must be a plain value", key_node)
            key = _scalar(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _index(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_index(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # Constructed from the node itself: re-serialising a plain scalar such as `(` to parse it
    # again fails, and a bad timestamp (`2024-13-45`) raises ValueError, not a YAMLError.
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except ValueError as error:
        raise _problem(str(error), node) from None


def _problem(problem: str, node: yaml.Node) -> yaml.YAMLError:
    return yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


def load_with_lines(
    path: Path, limits: loaders.Limits = loaders.CONFIG, what: str = "file"
) -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML document; returns the data and the line of every path in it.

    Read within `limits` (size, depth, no aliases by default): see `loaders`."""
    text = loaders.read_text(path, limits, what)
    node = loaders.compose_yaml(text, path, limits)
    if node is None:
        raise UserError(f"{path}: the file is empty")
    lines: dict[Path_, int] = {}
    try:
        return _index(node, (), lines), lines
    except yaml.YAMLError as error:
        raise UserError(loaders.yaml_problem(error, path, text)) from None


def line_of(loc: Sequence[str | int], lines: dict[Path_, int]) -> int:
    """The line of the deepest part of `loc` that the file has (a missing field: its parent)."""
    parts = tuple(loc)
    while parts and parts not in lines:
        parts = parts[:-1]
    return lines.get(parts, 1)


def validate_file(
    path: Path, model: type[M], limits: loaders.Limits = loaders.CONFIG, what: str = "file"
) -> M:
    """Load `path` into `model`; the first problem becomes `file:line: field: message`."""
    data, lines = load_with_lines(path, limits, what)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = error.errors()
        # A misspelt key shows up twice: as an unknown key and as a missing one. The unknown
        # key is the one the author typed, so it is the one to point at.
        first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
        loc = data_path(data, first["loc"])
        field = ".".join(str(p) for p in loc) or "(document)"
        raise UserError(f"{path}:{line_of(loc, lines)}: {field}: {first['msg']}") from None


def data_path(data: Any, loc: Sequence[str | int]) -> list[str | int]:
    """pydantic's error location without its own labels (union branches, tag names)."""
    path: list[str | int] = []
    current = data
    for position, part in enumerate(loc):
        if isinstance(current, list) and isinstance(part, int):
            path.append(part)
            current = current[part] if part < len(current) else None
        elif isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif position == len(loc) - 1 and isinstance(part, str) and part[:1].islower():
            path.append(part)  # a missing field, named by the model
    return path
