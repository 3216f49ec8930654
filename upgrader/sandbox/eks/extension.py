"""The sandbox's Amazon EKS: moto's, extended with what eksup calls and the rules AWS enforces.

moto 5.2 implements 16 of EKS's operations, none of those an upgrade is made of (version
updates, DescribeUpdate, add-ons, insights), and its clusters are ACTIVE and updated at once. This
extension adds those operations with AWS's refusals and error codes, lets updates take (virtual)
time, and tells the sandbox when node groups' nodes should change, so that `eksup` runs against
the same boto3 calls and the same failure modes as against AWS.

Use:
    install()                       # once, before the first EKS request (idempotent)
    settings.clock = virtual_clock  # optional: join the sandbox's VirtualClock
    settings.hooks = my_hooks       # optional: an EksWorldHooks
    eks_backend("us-east-1").add_insight(...)   # state only AWS itself could produce

`install` swaps the backend class inside moto's own `eks_backends`, which moto's in-process mock
(`mock_aws`), its server and its reset all read, so all three serve the extension. The pieces:
`moto_eks_catalog` (versions, AMI releases, add-on catalogue), `moto_eks_world` (settings,
hooks), `moto_eks_models` (time-derived resources), `moto_eks_backend` (clusters, node groups,
updates) with `moto_eks_addons` (add-ons, insights) and `moto_eks_errors`, and
`moto_eks_responses` (HTTP handlers and URL table). `aws_seed` adds the public SSM parameters.
"""

from __future__ import annotations

from moto.eks.models import eks_backends

from upgrader.sandbox.eks import responses
from upgrader.sandbox.eks.backend import SandboxEKSBackend, eks_backend
from upgrader.sandbox.eks.models import CANCELLED, FAILED, IN_PROGRESS, SUCCESSFUL
from upgrader.sandbox.eks.state import (
    EksSettings,
    EksWorldHooks,
    NodegroupFacts,
    NoHooks,
    TimeSource,
    settings,
)

__all__ = [
    "CANCELLED",
    "FAILED",
    "IN_PROGRESS",
    "SUCCESSFUL",
    "EksSettings",
    "EksWorldHooks",
    "NoHooks",
    "NodegroupFacts",
    "SandboxEKSBackend",
    "TimeSource",
    "eks_backend",
    "install",
    "installed",
    "settings",
]


def install() -> None:
    """Make moto's EKS the sandbox's. Idempotent. A moto server builds a service's routes on the
    first request to it, so install before the first EKS request reaches the server."""
    if installed():
        return
    SandboxEKSBackend.url_module = responses  # the routes every backend serves
    eks_backends.backend = SandboxEKSBackend
    # Per-account backends already built hold moto's class: drop them (and their state, which
    # can only be moto's own, pre-install).
    eks_backends.clear()


def installed() -> bool:
    return eks_backends.backend is SandboxEKSBackend
