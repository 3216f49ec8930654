"""A Kubernetes version, and the kinds of support, severity and node the version rules speak of."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import overload

from upgrader.core.errors import UserError

# Leading zeros are refused so that "1.030" cannot pass for 1.30; anything after the patch
# ("-eks-ae9a62a", "+build") is ignored, as kubelets and API servers report it.
_VERSION_RE = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:[-+][0-9A-Za-z.+-]*)?")


@dataclass(frozen=True, order=True)
class KubeVersion:
    """A Kubernetes minor version, e.g. 1.29: what EKS upgrades and skew rules are about.

    Patch and build are dropped on purpose: EKS upgrades, support dates and skew are per minor.
    """

    major: int
    minor: int

    def __post_init__(self) -> None:
        if self.major < 0 or self.minor < 0:
            raise ValueError(f"negative version component in {self.major}.{self.minor}")

    @classmethod
    def try_parse(cls, text: str) -> KubeVersion | None:
        """The minor of "1.29", "1.29.3" or "v1.29.3-eks-ae9a62a"; None when malformed."""
        match = _VERSION_RE.fullmatch(text.strip())
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """Like `try_parse`; a malformed version is the user's error, with a one-line message."""
        version = cls.try_parse(text)
        if version is None:
            raise UserError(
                f"malformed Kubernetes version {text!r}: expected e.g. 1.29, 1.29.3"
                " or v1.29.3-eks-ae9a62a"
            )
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __add__(self, minors: int) -> KubeVersion:
        return KubeVersion(self.major, self.minor + minors)

    @overload
    def __sub__(self, other: int) -> KubeVersion: ...
    @overload
    def __sub__(self, other: KubeVersion) -> int: ...
    def __sub__(self, other: int | KubeVersion) -> KubeVersion | int:
        """`v - 2` is two minors earlier; `a - b` is how many minors a is ahead of b."""
        if isinstance(other, int):
            return KubeVersion(self.major, self.minor - other)
        if other.major != self.major:
            raise ValueError(f"no minor distance between {self} and {other}: majors differ")
        return self.minor - other.minor


VersionLike = KubeVersion | str


def as_version(value: VersionLike) -> KubeVersion:
    return value if isinstance(value, KubeVersion) else KubeVersion.parse(value)


class SupportStatus(StrEnum):
    """Where a version stands in EKS's calendar on a given day."""

    NOT_YET_AVAILABLE = "not-yet-available"
    STANDARD = "standard"
    EXTENDED = "extended"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class NodeKind(StrEnum):
    """How a node is managed, which decides what AWS requires of it around an upgrade."""

    MANAGED_NODE_GROUP = "managed_node_group"
    FARGATE = "fargate"
    SELF_MANAGED = "self_managed"
    HYBRID = "hybrid"
