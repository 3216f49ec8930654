"""Which version each add-on moves to at a hop, and the path of versions on the way."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from upgrader.core.aws import AddonVersion
from upgrader.core.errors import UserError
from upgrader.plan.document import AddonUpdate
from upgrader.plan.snapshot import ClusterSnapshot
from upgrader.versions import KubeVersion, VersionCatalog

_ADDON_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:.*?eksbuild\.(\d+))?")


def addon_key(version: str) -> tuple[int, int, int, int]:
    match = _ADDON_VERSION.match(version.strip())
    if match is None:
        return (-1, -1, -1, -1)
    major, minor, patch, build = match.groups()
    return (int(major), int(minor), int(patch), int(build or 0))


def addon_candidates(listing: Iterable[AddonVersion], name: str, hop: str) -> list[AddonVersion]:
    return [
        v
        for v in listing
        if v.addon_name == name and (not v.compatibilities or v.compatible_with(hop))
    ]


def _default_version(snapshot: ClusterSnapshot, name: str, hop: str) -> str:
    """The hop's default build of add-on `name` (else its newest compatible one); "" when
    discovery did not read the hop's add-on versions or none is compatible."""
    candidates = addon_candidates(snapshot.addon_versions.get(hop, ()), name, hop)
    defaults = [v.version for v in candidates if v.default_for(hop)]
    pool = defaults or [v.version for v in candidates]
    return max(pool, key=addon_key, default="")


def addon_path(
    snapshot: ClusterSnapshot,
    catalog: VersionCatalog,
    name: str,
    *,
    current: str,
    target: str,
    hop: str,
) -> list[str]:
    """Versions to apply in order, ending at `target`. For an add-on that moves one minor at a
    time, each minor in between is its newest build compatible with the hop; a minor EKS
    publishes no such build of is skipped, as there is nothing to stop at."""
    try:
        minors = catalog.addon_upgrade_minors(name, current, target)
    except UserError:
        return [target]
    listing = addon_candidates(snapshot.addon_versions.get(hop, ()), name, hop)
    path = []
    for minor in minors[:-1]:
        wanted = KubeVersion.parse(minor)
        builds = [v.version for v in listing if KubeVersion.try_parse(v.version) == wanted]
        if builds:
            path.append(max(builds, key=addon_key))
    return [*path, target]


def addon_updates(
    snapshot: ClusterSnapshot,
    catalog: VersionCatalog,
    hop: str,
    installed: Mapping[str, str],
) -> list[AddonUpdate]:
    """Each installed add-on's move at `hop`; add-ons already at (or past) the hop's default
    are left alone."""
    updates = []
    for name, current in sorted(installed.items()):
        target = _default_version(snapshot, name, hop)
        if target and current and addon_key(current) >= addon_key(target):
            continue
        path = (
            addon_path(snapshot, catalog, name, current=current, target=target, hop=hop)
            if target and current
            else []
        )
        updates.append(AddonUpdate(name=name, current=current, target=target, path=path))
    return updates
