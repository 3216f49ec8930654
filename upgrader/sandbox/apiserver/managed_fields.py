"""managedFields: which manager set which fields of each object, and the conflicts an apply
would have (https://kubernetes.io/docs/reference/using-api/server-side-apply/, "Field
management"). The server's state, beside its HTTP side (`apply`): the route modules' state
Protocol (`state`) names it, so it lives apart from the routes that write through it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from upgrader.adapters.kubernetes import encode

Json = dict[str, Any]
Path = tuple[str, ...]  # FieldsV1 keys: "f:spec", "f:replicas", 'k:{"name":"main"}'


def fields_v1(paths: Iterator[Path] | Sequence[Path]) -> Json:
    tree: Json = {}
    for path in paths:
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def dotted(path: Path) -> str:
    """A conflict's field as the API server names it: .spec.replicas, .spec...[name="main"]."""
    text = ""
    for part in path:
        if part.startswith("f:"):
            text += "." + part[2:]
        elif part.startswith("k:"):
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(part[2:]).items())
            text += "]"
    return text


@dataclass
class Entry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: float
    subresource: str = ""
    values: dict[Path, Any] = field(default_factory=dict)

    def wire(self) -> Json:
        entry: Json = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": encode.timestamp(self.time),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(sorted(self.values)),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


class ConflictsError(Exception):
    def __init__(self, conflicts: Sequence[tuple[str, str, Path]]) -> None:
        self.conflicts = conflicts
        lines = [f'conflict with "{m}" using {v}: {dotted(p)}' for m, v, p in conflicts]
        count = len(lines)
        head = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: "
        super().__init__(head + "\n".join(lines) if count > 1 else head + lines[0])


class ManagedFields:
    """Each object's managers (keyed by the object's URL path), in the order they first wrote."""

    def __init__(self) -> None:
        self._objects: dict[str, list[Entry]] = {}
        self._lock = threading.Lock()

    def entries(self, key: str) -> list[Json]:
        with self._lock:
            return [e.wire() for e in self._objects.get(key, []) if e.values]

    def forget(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def forget_namespace(self, namespace: str) -> None:
        """Every object of a deleted namespace."""
        with self._lock:
            for key in [k for k in self._objects if f"/namespaces/{namespace}/" in k]:
                del self._objects[key]

    def update(self, key: str, entry: Entry) -> None:
        """An Update: the manager owns what it wrote, and no one else owns a field it changed."""
        with self._lock:
            entries = self._objects.setdefault(key, [])
            for other in entries:
                if (other.manager, other.operation, other.subresource) != (
                    entry.manager,
                    entry.operation,
                    entry.subresource,
                ):
                    for path, value in entry.values.items():
                        if path in other.values and other.values[path] != value:
                            del other.values[path]
            self._merge(entries, entry, replace_values=False)

    def conflicts(self, key: str, entry: Entry) -> list[tuple[str, str, Path]]:
        """Fields of an Apply that another manager set to another value."""
        with self._lock:
            return self._conflicts(self._objects.get(key, []), entry)

    @staticmethod
    def _conflicts(entries: Sequence[Entry], entry: Entry) -> list[tuple[str, str, Path]]:
        return [
            (other.manager, other.api_version, path)
            for other in entries
            if other.manager != entry.manager or other.operation != "Apply"
            for path, value in entry.values.items()
            if path in other.values and other.values[path] != value
        ]

    def released(self, key: str, entry: Entry) -> list[Path]:
        """The fields this manager applied last time, leaves out now, and no other manager
        owns: the ones the apply removes from the object ("Field management": "If the field
        is not owned by any other field managers, it is either deleted from the live object
        or reset to its default value")."""
        with self._lock:
            entries = self._objects.get(key, [])
            mine = (entry.manager, "Apply", entry.subresource)
            before = next(
                (e for e in entries if (e.manager, e.operation, e.subresource) == mine), None
            )
            if before is None:
                return []
            others = [e for e in entries if e is not before]
            return [
                path
                for path in before.values
                if path not in entry.values and not any(path in o.values for o in others)
            ]

    def apply(self, key: str, entry: Entry) -> None:
        """An Apply that was allowed (no conflict, or forced): the manager takes the
        conflicting fields and owns exactly the fields of this apply."""
        with self._lock:
            entries = self._objects.setdefault(key, [])
            for manager, _, path in self._conflicts(entries, entry):
                for other in entries:
                    if other.manager == manager:
                        other.values.pop(path, None)
            self._merge(entries, entry, replace_values=True)

    @staticmethod
    def _merge(entries: list[Entry], entry: Entry, *, replace_values: bool) -> None:
        for i, mine in enumerate(entries):
            if (mine.manager, mine.operation, mine.subresource) == (
                entry.manager,
                entry.operation,
                entry.subresource,
            ):
                values = entry.values if replace_values else {**mine.values, **entry.values}
                entries[i] = replace(entry, values=values)
                return
        entries.append(entry)
