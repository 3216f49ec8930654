"""Bounded reading of every file eksup is given: plan, journal, `.eksup.yaml`, rollout spec,
runbooks and `--manifests`.

These files come from a repository, a CI artifact or a colleague, so a loader must end, fast and
in one line, whatever the bytes are. PyYAML and `json` on their own do not: a 400-byte YAML
alias bomb expands to billions of nodes when walked, a recursive alias or a list nested 20,000
deep ends in RecursionError, as does JSON nested 100,000 deep, and a stray Latin-1 byte is a
UnicodeDecodeError. Here every read is capped in size, every document in depth, aliases are
refused where the format never needs them (config, spec, runbooks) and capped in expansion where
it might (manifests), and every failure is a `UserError` naming the file and the position.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from upgrader.core.errors import UserError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How much one file may hold. Each default is far above any real file of its kind."""

    max_bytes: int
    max_depth: int = 64  # nesting levels; a Kubernetes object is rarely deeper than 20
    aliases: bool = False  # YAML `*alias` allowed at all
    max_nodes: int = 500_000  # YAML nodes after expanding aliases, per document


# Bytes. A plan of a 500-node-group cluster is about 2 MiB.
PLAN = Limits(max_bytes=32 * MIB, max_depth=64)
# Bytes. A journal gains ~300 bytes a record; a week-long run writes tens of thousands.
JOURNAL = Limits(max_bytes=64 * MIB, max_depth=16)
# Bytes. Hand-written YAML: a few KiB. Aliases are never needed in these schemas.
CONFIG = Limits(max_bytes=1 * MIB, max_depth=32)
SPEC = Limits(max_bytes=1 * MIB, max_depth=32)
RUNBOOK = Limits(max_bytes=1 * MIB, max_depth=32)
# Bytes per file. The largest CRDs in the wild are ~2 MiB; people do use anchors in manifests.
MANIFEST = Limits(max_bytes=16 * MIB, max_depth=100, aliases=True, max_nodes=1_000_000)


def read_text(path: Path, limits: Limits, what: str) -> str:
    """The file's text, or a one-line UserError: unreadable, too large, or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as error:
        raise UserError(f"{path}: cannot read the {what}: {error.strerror or error}") from None
    if len(data) > limits.max_bytes:
        raise UserError(
            f"{path}: the {what} is larger than {limits.max_bytes // MIB} MiB, "
            "the most eksup reads for it"
        )
    return decode(data, path)


def decode(data: bytes, where: object) -> str:
    """UTF-8 text, or a UserError naming the line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise UserError(
            f"{where}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x} at column "
            f"{column}); save the file as UTF-8"
        ) from None


# --- JSON ---------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth_error(text: str, max_depth: int) -> str | None:
    """None when no array/object is nested deeper than `max_depth`, else the problem with
    its position. Checked before `json.loads`, whose C decoder recurses once per level."""
    if text.count("[") + text.count("{") <= max_depth:
        return None  # cannot be too deep: the common case costs two counts
    depth = 0
    stripped = _JSON_STRING.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)
    for match in _JSON_BRACKET.finditer(stripped):
        depth += 1 if match.group() in "[{" else -1
        if depth > max_depth:
            line = text.count("\n", 0, match.start()) + 1
            column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
            return f"{line}: nested deeper than {max_depth} levels (column {column})"
    return None


def loads_json(text: str, where: object, limits: Limits) -> Any:
    """Parse JSON within `limits`; any problem is a UserError `where:line:col: problem`."""
    problem = json_depth_error(text, limits.max_depth)
    if problem is not None:
        raise UserError(f"{where}:{problem}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{where}:{error.lineno}: not valid JSON: {error.msg}") from None
    except (RecursionError, ValueError) as error:  # ValueError: e.g. an integer too long
        raise UserError(f"{where}: not valid JSON: {error}") from None


def load_json(path: Path, limits: Limits, what: str) -> Any:
    return loads_json(read_text(path, limits, what), path, limits)


# --- YAML ---------------------------------------------------------------------------------


class BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts depth, refuses recursive aliases, and refuses
    aliases altogether or caps what they expand to (the tree a walker would visit).

    PyYAML's composer shares the node an alias names, so composing a bomb is cheap; the
    blow-up comes later, in whatever walks the tree. Counting here, before anything walks it,
    keeps every caller safe.
    """

    limits: Limits = CONFIG

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._open_anchors: list[str] = []
        self._expanded: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            if not self.limits.aliases:
                raise _refused(f"aliases (*{event.anchor}) are not allowed here", event.start_mark)
            if event.anchor in self._open_anchors:
                raise _refused(f"recursive alias *{event.anchor}", event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise _refused(f"nested deeper than {self.limits.max_depth} levels", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.append(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.pop()
        if node is not None:
            self._count(node)
        return node

    def _count(self, node: yaml.Node) -> None:
        """The size of `node` once its aliases are expanded, from its children's (each child
        was composed, hence counted, before its parent)."""
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._expanded.get(id(child), 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(
                self._expanded.get(id(k), 1) + self._expanded.get(id(v), 1) for k, v in node.value
            )
        if size > self.limits.max_nodes:
            raise _refused(
                f"expands to more than {self.limits.max_nodes} values (an alias bomb?)",
                node.start_mark,
            )
        if size > 1:
            self._expanded[id(node)] = size

    def compose_document(self) -> yaml.Node | None:
        # Node ids are only meaningful while the document's nodes are alive.
        try:
            return super().compose_document()
        finally:
            self._expanded.clear()


def _refused(problem: str, mark: Any) -> yaml.composer.ComposerError:
    return yaml.composer.ComposerError(None, None, problem, mark)


def loader_for(limits: Limits) -> type[BoundedLoader]:
    return type("BoundedLoader", (BoundedLoader,), {"limits": limits})


def yaml_problem(error: yaml.YAMLError, where: object, text: str = "") -> str:
    """`where:line: not valid YAML: problem`, one line."""
    mark = getattr(error, "problem_mark", None)
    at = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if isinstance(error, yaml.reader.ReaderError):  # a control character: no mark, a position
        at = f":{text.count(chr(10), 0, error.position) + 1}"
        problem = f"character #x{error.character:04x} is not allowed in YAML"
    return f"{where}{at}: not valid YAML: {problem}"


def compose_yaml(text: str, where: object, limits: Limits) -> yaml.Node | None:
    """The node tree of a single-document YAML text, composed within `limits`."""
    try:
        loader = loader_for(limits)(text)  # the reader refuses control characters here
        return loader.get_single_node()
    except yaml.YAMLError as error:
        raise UserError(yaml_problem(error, where, text)) from None
    except RecursionError:  # defence in depth: the depth cap should make this unreachable
        raise UserError(f"{where}: not valid YAML: nested too deeply") from None


def load_yaml(text: str, where: object, limits: Limits) -> Any:
    """The value of a single-document YAML text (None when empty), within `limits`."""
    try:
        loader = loader_for(limits)(text)
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise UserError(yaml_problem(error, where, text)) from None
    except ValueError as error:  # a scalar that resolves to a bad timestamp: `2024-13-45`
        raise UserError(f"{where}: not valid YAML: {error}") from None
    except RecursionError:
        raise UserError(f"{where}: not valid YAML: nested too deeply") from None
