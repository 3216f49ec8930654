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

from upgrader.errors import UserError
from upgrader.snapshot import ApiUsage, UsageSource

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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [], f"{shown}: cannot read: {error}"
    return usages_in_text(text, shown, UsageSource.MANIFEST)


def usages_in_text(text: str, where: str, source: UsageSource) -> tuple[list[ApiUsage], str | None]:
    """The apiVersion/kind of every document in a multi-document YAML text, and the first
    problem (`where:line: ...`) if it stopped early."""
    usages: list[ApiUsage] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            document = loader.construct_document(node)
            usages.extend(_usages(document, f"{where}:{line}", source))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        hint = "; render Helm templates with `helm template` first" if "{{" in text else ""
        return usages, f"{where}{at}: not valid YAML: {problem}{hint}"
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
