"""Scan a directory of Kubernetes manifests for the API versions they use (`--manifests DIR`).

What is in Git is what gets applied next, after the upgrade; a Deployment still written as
extensions/v1beta1 breaks the first deploy on the new version even if the live object was
converted long ago. Every `*.yaml`, `*.yml` and `*.json` file below the directory is read, every
document in it (`---`), and every item of a `kind: List`.

A file that cannot be read or parsed is reported (`path:line: problem`) and the scan goes on:
one broken file must not hide what the others use, nor end the plan in a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.plan.snapshot import ApiUsage, UsageSource

_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ManifestScan:
    usages: tuple[ApiUsage, ...]
    errors: tuple[str, ...]  # "path:line: problem", one per unreadable file
    files: int  # how many files were read


def scan_manifests(root: Path) -> ManifestScan:
    """Every apiVersion/kind used under `root` (a directory or a single file)."""
    if not root.exists():
        raise UserError(f"{root}: no such file or directory (given with --manifests)")
    files = [root] if root.is_file() else sorted(_manifest_files(root))
    base = root.parent if root.is_file() else root
    usages: list[ApiUsage] = []
    errors: list[str] = []
    for path in files:
        shown = path.relative_to(base).as_posix()
        found, error = _scan_file(path, shown)
        usages.extend(found)
        if error:
            errors.append(error)
    return ManifestScan(tuple(usages), tuple(errors), len(files))


def _manifest_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        relative = path.relative_to(root).parts
        # .git, .terraform and friends hold copies and caches, not what gets applied.
        if any(part.startswith(".") for part in relative):
            continue
        if path.suffix.lower() in _SUFFIXES and path.is_file():
            yield path


def _scan_file(path: Path, shown: str) -> tuple[list[ApiUsage], str | None]:
    try:
        text = loaders.decode(_read_bounded(path, shown), shown)
    except OSError as error:
        return [], f"{shown}: cannot read: {error.strerror or error}"
    except UserError as error:
        return [], str(error)
    return usages_in_text(text, shown, UsageSource.MANIFEST)


def _read_bounded(path: Path, shown: str) -> bytes:
    limit = loaders.MANIFEST.max_bytes
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"{shown}: larger than {limit // loaders.MIB} MiB; not read")
    return data


def usages_in_text(text: str, where: str, source: UsageSource) -> tuple[list[ApiUsage], str | None]:
    """The apiVersion/kind of every document in a multi-document YAML text, and the first
    problem (`where:line: ...`) if it stopped early."""
    usages: list[ApiUsage] = []
    # Bounded: depth, recursive aliases and alias expansion are capped (see `loaders`).
    try:
        loader = loaders.loader_for(loaders.MANIFEST)(text)
    except yaml.YAMLError as error:  # a control character, refused before any document
        return usages, loaders.yaml_problem(error, where, text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            document = loader.construct_document(node)
            usages.extend(_usages(document, f"{where}:{line}", source))
    except yaml.YAMLError as error:
        hint = "; render Helm templates with `helm template` first" if "{{" in text else ""
        return usages, loaders.yaml_problem(error, where, text) + hint
    except ValueError as error:  # a scalar that resolves to a bad timestamp: `2024-13-45`
        return usages, f"{where}: not valid YAML: {error}"
    except RecursionError:  # defence in depth: the depth cap should make this unreachable
        return usages, f"{where}: not valid YAML: nested too deeply"
    finally:
        loader.dispose()
    return usages, None


def _usages(document: Any, where: str, source: UsageSource) -> Iterator[ApiUsage]:
    if not isinstance(document, dict):
        return
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return
    items = document.get("items")
    if kind.endswith("List") and isinstance(items, list):
        for item in items:
            yield from _usages(item, where, source)
        return
    metadata = document.get("metadata")
    name = namespace = ""
    if isinstance(metadata, dict):
        name = str(metadata.get("name") or "")
        namespace = str(metadata.get("namespace") or "")
    qualified = f"{namespace}/{name}" if namespace else name
    yield ApiUsage(
        group_version=api_version,
        kind=kind,
        source=source,
        object=f"{where} {kind} {qualified}".rstrip(),
    )
