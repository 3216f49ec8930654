"""Loading the version data file: duplicate keys refused, errors located, facts cross-checked."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator
from typing import Any

import yaml
from pydantic import (
    BaseModel,
)

from upgrader.core.errors import PermanentError
from upgrader.versions.data_schema import Sourced, VersionData


class VersionDataError(PermanentError):
    """The packaged version data is malformed (a packaging bug): `file: field: message` lines."""


# --- loading ------------------------------------------------------------------------------------


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a repeated version or source id must fail."""


def _construct_unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping below reports it in PyYAML's words
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


# What names a list item in an error path: a version's version, a gotcha's id, a removal's kind.
_LABEL_ORDER = ("version", "id", "kind")


def describe_location(loc: tuple[int | str, ...], raw: object) -> str:
    """`versions[3](1.26).eks_release`: list items are named by their version or id."""
    out = ""
    node: object = raw
    for item in loc:
        if isinstance(item, int):
            child = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
            label = None
            if isinstance(child, dict):
                label = next((child[key] for key in _LABEL_ORDER if key in child), None)
            out += f"[{item}]" + (f"({label})" if isinstance(label, str) else "")
        else:
            child = node.get(item) if isinstance(node, dict) else None
            out += ("." if out else "") + str(item)
        node = child
    return out or "(top level)"


def _walk(value: object, path: str) -> Iterator[tuple[str, object]]:
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            label = next((getattr(item, k) for k in _LABEL_ORDER if hasattr(item, k)), None)
            yield from _walk(item, f"{path}[{index}]" + (f"({label})" if label else ""))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")


def cross_check(data: VersionData) -> list[tuple[str, str]]:
    """Rules that span sections, which no single model can check. Returns (field, message)."""
    problems: list[tuple[str, str]] = []
    for path, node in _walk(data, ""):
        if isinstance(node, Sourced):
            for source_id in node.sources:
                if source_id not in data.sources:
                    problems.append((f"{path}.sources", f"unknown source id {source_id!r}"))

    versions = [info.version for info in data.versions]
    for index, (earlier, later) in enumerate(itertools.pairwise(versions), start=1):
        if later != earlier + 1:
            problems.append(
                (
                    f"versions[{index}]({later})",
                    f"expected {earlier + 1}: one entry per minor, in order",
                )
            )
    known = set(versions)
    # hops() relies on availability being a prefix: nothing newer ships before something older.
    available = [info.available_on_eks for info in data.versions]
    if available != sorted(available, reverse=True):
        problems.append(("versions", "a version with eks_release set follows one without"))

    for version in data.lifecycle.formula_exceptions:
        if version not in known:
            problems.append(
                (f"lifecycle.formula_exceptions.{version}", "not a version in `versions`")
            )
    seen_ids: set[str] = set()
    for index, gotcha in enumerate(data.gotchas):
        where = f"gotchas[{index}]({gotcha.id})"
        if gotcha.id in seen_ids:
            problems.append((where, f"duplicate gotcha id {gotcha.id!r}"))
        seen_ids.add(gotcha.id)
        if gotcha.target is not None and gotcha.target not in known:
            problems.append((f"{where}.target", f"{gotcha.target} is not a version in `versions`"))
    return problems
