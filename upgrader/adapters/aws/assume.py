"""A boto3 session in another account: STS AssumeRole, as a fleet reaches its member clusters."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from upgrader.adapters.aws.sessions import new_session
from upgrader.core.errors import EksupError


def assumed_session(
    role_arn: str,
    region: str,
    *,
    profile: str | None = None,
    base: boto3.Session | None = None,
    session_name: str = "eksup-fleet",
    endpoint_url: str | None = None,
) -> boto3.Session:
    """Temporary credentials for `role_arn` from the caller's own (profile, IRSA, Pod Identity,
    or `base`: the sandbox's; `endpoint_url`: a served sandbox's STS)."""
    base = base or new_session(profile_name=profile, region_name=region)
    sts: Any = base.client("sts", endpoint_url=endpoint_url)
    try:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    except (ClientError, BotoCoreError) as error:
        raise EksupError(f"cannot assume {role_arn}: {error}") from None
    return new_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
