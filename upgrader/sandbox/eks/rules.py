"""EKS's rules that the sandbox's EKS enforces beside its operations: readiness refusals, pages,
refused updates while the control plane changes version, and request value checks.

Each follows the EKS API reference (botocore's EKS model, which carries its text):
- UpdateClusterVersion: `force` "override[s] upgrade-blocking readiness checks";
  InvalidStateException: "Amazon EKS detected upgrade readiness issues. Call the ListInsights
  API to view detected upgrade blocking issues. Pass the force flag when updating to override
  upgrade readiness errors." The same holds for the rollback readiness checks.
- ListUpdates, ListInsights, DescribeAddonVersions: `maxResults` 1-100; without it "up to 100
  results and a nextToken value, if applicable"; `nextToken` continues where the last page
  ended.
- While a cluster update is in progress, another update of the cluster is refused with
  ResourceInUseException (EKS runs one cluster update at a time).
- `resolveConflicts` is one of OVERWRITE, NONE, PRESERVE (InvalidParameterException otherwise).
- A role ARN names a partition AWS has (moto's `validate_role_arn`, see below).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from moto.core.base_backend import AccountSpecificBackend
from moto.eks.exceptions import EKSError, InvalidParameterException

from upgrader.sandbox.eks.errors import in_use, invalid_parameter
from upgrader.sandbox.eks.models import Cluster, running

UPGRADE_READINESS = "UPGRADE_READINESS"
DEFAULT_MAX_RESULTS = 100  # EKS's page size when maxResults is not given
MAX_RESULTS = 100
RESOLVE_CONFLICTS = ("OVERWRITE", "NONE", "PRESERVE")
T = TypeVar("T")


class InvalidStateException(EKSError):  # noqa: N818 (EKS's name for it)
    code = "InvalidStateException"


def invalid_state(message: str, cluster: str) -> InvalidStateException:
    return InvalidStateException(message=message, clusterName=cluster)


def check_upgrade_readiness(cluster: Cluster, version: str, force: bool) -> None:
    """Refuse an upgrade to `version` while an upgrade readiness insight about it is ERROR."""
    if force:
        return
    errors = sorted(
        insight.name
        for insight in cluster.insights.values()
        if insight.category == UPGRADE_READINESS
        and insight.status == "ERROR"
        and insight.kubernetes_version in ("", version)
    )
    if errors:
        raise invalid_state(
            f"Amazon EKS detected upgrade readiness issues for cluster {cluster.name} to "
            f"{version}: {'; '.join(errors)}. Call the ListInsights API to view them; pass the "
            "force flag to override upgrade readiness errors.",
            cluster.name,
        )


def check_no_cluster_update(cluster: Cluster, kind: str) -> None:
    """Refuse a cluster update of `kind` while another cluster update runs, or while the
    cluster is still being created (EKS: ResourceInUseException until it is ACTIVE)."""
    if cluster.status == "CREATING":
        raise in_use(
            f"Cannot {kind} because cluster {cluster.name} is in CREATING state", cluster.name
        )
    if busy := running(cluster.updates):
        raise in_use(
            f"Cannot {kind} because cluster {cluster.name} currently has update {busy.id} "
            "in progress",
            cluster.name,
        )


def check_resolve_conflicts(value: str | None, cluster: str, addon: str) -> None:
    if value is not None and value not in RESOLVE_CONFLICTS:
        raise invalid_parameter(
            f"1 validation error detected: Value '{value}' at 'resolveConflicts' failed to "
            f"satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(RESOLVE_CONFLICTS)}]",
            cluster,
            addon=addon,
        )


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"eksup-sandbox:{offset}".encode()).decode()


def _offset(token: str) -> int:
    prefix, offset = "", -1
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError):
        pass  # refused below
    if prefix != "eksup-sandbox" or offset < 0:
        raise invalid_parameter("The nextToken is not valid")
    return offset


def page(
    items: Sequence[T], max_results: Any, next_token: str | None
) -> tuple[list[T], str | None]:
    """One page of `items` and the token of the next (None after the last page)."""
    size = DEFAULT_MAX_RESULTS
    if max_results is not None:
        try:
            size = int(max_results)
        except (TypeError, ValueError):
            size = 0
        if not 1 <= size <= MAX_RESULTS:
            raise invalid_parameter(
                f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to "
                f"satisfy constraint: Member must have value between 1 and {MAX_RESULTS}"
            )
    start = _offset(next_token) if next_token else 0
    end = start + size
    return list(items[start:end]), _token(end) if end < len(items) else None


_ROLE_ARN = re.compile(r"arn:(?P<partition>.+):iam::[0-9]{12}:role/.+")


@cache
def _partitions() -> frozenset[str]:
    return frozenset(AccountSpecificBackend.get_session().get_available_partitions())


def validate_role_arn(arn: str) -> None:
    """moto's check (`moto.eks.utils.validate_role_arn`) without its cost: moto builds a boto3
    Session on every call (about 40 ms) only to list the partitions, which are fixed for a
    process; moto's own cached Session lists them once here."""
    match = _ROLE_ARN.match(arn or "")
    if match is None or match.group("partition") not in _partitions():
        raise InvalidParameterException(message=f"Invalid Role Arn: '{arn}'")
