"""EKS's errors as AWS sends them: an error type (which picks boto3's exception class), a
message, and the names of the resources concerned beside it in the JSON body."""

from __future__ import annotations

from typing import Any

from moto.eks.exceptions import (
    InvalidParameterException,
    ResourceInUseException,
    ResourceNotFoundException,
)


def _fields(cluster: str | None, nodegroup: str | None, addon: str | None) -> dict[str, Any]:
    # The JSON body AWS returns beside the message; boto3 shows it in `error.response`.
    return {"clusterName": cluster, "nodegroupName": nodegroup, "addonName": addon}


def invalid_parameter(
    message: str, cluster: str | None = None, nodegroup: str | None = None, addon: str | None = None
) -> InvalidParameterException:
    return InvalidParameterException(message=message, **_fields(cluster, nodegroup, addon))


def in_use(
    message: str, cluster: str | None = None, nodegroup: str | None = None, addon: str | None = None
) -> ResourceInUseException:
    return ResourceInUseException(message=message, **_fields(cluster, nodegroup, addon))


def not_found(
    message: str, cluster: str | None = None, nodegroup: str | None = None, addon: str | None = None
) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        message=message, fargateProfileName=None, **_fields(cluster, nodegroup, addon)
    )
