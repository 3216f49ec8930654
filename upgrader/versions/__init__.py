"""What eksup knows about Kubernetes and EKS versions, and the rules that follow from it.

The facts (EKS calendar, API removals, skew and upgrade rules, AMI parameters, per-version
gotchas) change with every release and each one needs a source, so they live in a data file,
`upgrader/data/eks_versions.yaml`, that a reviewer can check line by line against its sources
(docs/versions.md says how). This module loads that file once, validates it strictly, and turns
it into a small typed API the planner and the checks decide with. It is pure: the only I/O is
reading the packaged file.

The file is a fallback and a source of rules, not the live truth: at run time
`eks:DescribeClusterVersions` wins for the calendar, and add-on versions always come from
`eks:DescribeAddonVersions`, never from here.
"""

from upgrader.versions.catalog import DATA_FILE, DATA_PACKAGE, VersionCatalog, default_catalog
from upgrader.versions.data_schema import (
    AddonMinimum,
    AddonRule,
    ApiRemoval,
    Gotcha,
    Source,
    VersionInfo,
)
from upgrader.versions.kube_version import KubeVersion, NodeKind, Severity, SupportStatus
from upgrader.versions.loading import VersionDataError

__all__ = [
    "DATA_FILE",
    "DATA_PACKAGE",
    "AddonMinimum",
    "AddonRule",
    "ApiRemoval",
    "Gotcha",
    "KubeVersion",
    "NodeKind",
    "Severity",
    "Source",
    "SupportStatus",
    "VersionCatalog",
    "VersionDataError",
    "VersionInfo",
    "default_catalog",
]
