"""What the sandbox's EKS knows about versions: which exist, their AMI releases, their add-ons.

The moto extension needs this to refuse what AWS refuses (an unsupported version, an add-on
version not built for the cluster's Kubernetes version) and to answer what AWS answers (a node
group's default release version, `DescribeAddonVersions`); the SSM seeding needs the same AMI
releases so that `recommended/release_version` and a new node group's `releaseVersion` agree.
The figures live in `data/*.yaml` beside this module; this module only loads and checks them,
so a broken catalogue fails on first use instead of answering something AWS never would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

AmiFamily = Literal["al2", "al2023", "bottlerocket"]

_VERSION = re.compile(r"^1\.(\d+)$")
_ADDON_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-eksbuild\.(\d+)$")


def minor(version: str) -> int:
    """29 for "1.29". Raises ValueError for anything that is not a Kubernetes 1.x version."""
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"not a Kubernetes minor version: {version!r}")
    return int(match.group(1))


def version_of(minor_number: int) -> str:
    return f"1.{minor_number}"


def max_kubelet_skew(control_plane: str) -> int:
    """How many minors a kubelet may lag the API server: 3 from 1.28 on, 2 before (skew policy)."""
    return 3 if minor(control_plane) >= 28 else 2


def _load(name: str) -> Any:
    text = resources.files("upgrader.sandbox").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


# --- AMI releases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmiReleases:
    """The recommended EKS AMI release of one Kubernetes minor, per AMI family."""

    al2023: str
    bottlerocket: str
    al2: str | None = None  # None from 1.33: AWS publishes no Amazon Linux 2 EKS AMIs there

    def for_family(self, family: AmiFamily) -> str | None:
        return {"al2": self.al2, "al2023": self.al2023, "bottlerocket": self.bottlerocket}[family]


@cache
def ami_releases() -> Mapping[str, AmiReleases]:
    raw: dict[str, dict[str, str]] = _load("ami_releases.yaml")
    releases = {version: AmiReleases(**fields) for version, fields in raw.items()}
    for version, release in releases.items():
        for family in ("al2", "al2023"):
            value = release.for_family(family)
            if value is not None and not value.startswith(f"{version}."):
                raise ValueError(f"ami_releases.yaml: {version}: {family} release {value}")
    return dict(sorted(releases.items(), key=lambda item: minor(item[0])))


def supported_versions() -> tuple[str, ...]:
    """The Kubernetes versions the sandbox's EKS creates and updates to, oldest first."""
    return tuple(ami_releases())


def is_supported(version: str) -> bool:
    return version in ami_releases()


def ami_family(ami_type: str) -> AmiFamily:
    """Which AMI release line a node group's amiType follows (CUSTOM and Windows: AL2023's)."""
    if ami_type.startswith("AL2_"):
        return "al2"
    if ami_type.startswith("BOTTLEROCKET_"):
        return "bottlerocket"
    return "al2023"


def default_ami_type(version: str) -> str:
    """AWS's default for a new managed node group: AL2023 from Kubernetes 1.30, AL2 before."""
    return "AL2023_x86_64_STANDARD" if minor(version) >= 30 else "AL2_x86_64"


def release_version(version: str, ami_type: str) -> str | None:
    """The recommended AMI release for a node group, or None when AWS publishes none (AL2 1.33+)."""
    releases = ami_releases().get(version)
    return releases.for_family(ami_family(ami_type)) if releases else None


# --- add-ons ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddonBuild:
    """One version of one add-on, as DescribeAddonVersions lists it."""

    version: str
    cluster_versions: tuple[str, ...]
    default_for: frozenset[str]


@dataclass(frozen=True)
class AddonSpec:
    name: str
    type: str
    builds: tuple[AddonBuild, ...]  # newest first, as AWS lists them

    def compatible(self, cluster_version: str) -> tuple[AddonBuild, ...]:
        return tuple(b for b in self.builds if cluster_version in b.cluster_versions)

    def default(self, cluster_version: str) -> str | None:
        return next(
            (b.version for b in self.builds if cluster_version in b.default_for),
            None,
        )

    def is_compatible(self, version: str, cluster_version: str) -> bool:
        return any(b.version == version for b in self.compatible(cluster_version))

    def describe(self, cluster_version: str | None = None) -> dict[str, Any]:
        """DescribeAddonVersions' AddonInfo. Filtered by a cluster version, AWS lists only the
        builds for it, each with only that version's compatibility entry."""
        builds = self.compatible(cluster_version) if cluster_version else self.builds
        return {
            "addonName": self.name,
            "type": self.type,
            "addonVersions": [
                {
                    "addonVersion": build.version,
                    "architecture": ["amd64", "arm64"],
                    "computeTypes": ["ec2"],
                    "compatibilities": [
                        {
                            "clusterVersion": version,
                            "platformVersions": ["*"],
                            "defaultVersion": version in build.default_for,
                        }
                        for version in (
                            [cluster_version] if cluster_version else build.cluster_versions
                        )
                    ],
                    "requiresConfiguration": False,
                    # The EBS CSI driver needs an IAM role (IRSA or Pod Identity) to work.
                    "requiresIamPermissions": self.type == "storage",
                }
                for build in builds
            ],
            "publisher": "eks",
            "owner": "aws",
        }


def _cluster_range(text: str) -> tuple[str, ...]:
    first, _, last = str(text).partition("-")
    return tuple(version_of(m) for m in range(minor(first), minor(last or first) + 1))


def _build_key(build: AddonBuild) -> tuple[int, ...]:
    match = _ADDON_VERSION.match(build.version)
    if match is None:
        raise ValueError(f"addon_versions.yaml: not an eksbuild version: {build.version}")
    return tuple(int(part) for part in match.groups())


def _addon_spec(name: str, raw: Mapping[str, Any]) -> AddonSpec:
    builds = [
        AddonBuild(
            version=entry["version"],
            cluster_versions=_cluster_range(entry["clusters"]),
            default_for=frozenset(entry.get("default", ())),
        )
        for entry in raw["versions"]
    ]
    spec = AddonSpec(name, raw["type"], tuple(sorted(builds, key=_build_key, reverse=True)))
    for build in builds:
        if not build.default_for <= set(build.cluster_versions):
            raise ValueError(f"addon_versions.yaml: {name} {build.version}: default outside range")
    for cluster_version in {v for b in builds for v in b.cluster_versions}:
        defaults = [b.version for b in builds if cluster_version in b.default_for]
        if len(defaults) != 1:
            raise ValueError(
                f"addon_versions.yaml: {name} @{cluster_version}: {len(defaults)} defaults"
            )
    return spec


@cache
def addon_catalogue() -> Mapping[str, AddonSpec]:
    raw: dict[str, Mapping[str, Any]] = _load("addon_versions.yaml")
    return {name: _addon_spec(name, spec) for name, spec in raw.items()}
