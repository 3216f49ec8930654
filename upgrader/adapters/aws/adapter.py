"""`Boto3Aws`: every AWS port on one object, over one set of lazily built boto3 clients.

The CLI and the sandbox build one of these from a region, a profile and (for the sandbox) an
endpoint URL, and hand it to whatever needs `ControlPlane`, `Compute`, `LoadBalancers`, `Dns` or
`Metrics`. The per-service classes stay usable on their own for code that wants one port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from upgrader.adapters.aws.clients import AwsClients
from upgrader.adapters.aws.compute import Boto3Compute
from upgrader.adapters.aws.eks import Boto3ControlPlane
from upgrader.adapters.aws.retry import RetryPolicy
from upgrader.adapters.aws.sessions import new_session
from upgrader.adapters.aws.sts import Boto3CallerIdentity
from upgrader.adapters.aws.traffic import Boto3Dns, Boto3LoadBalancers, Boto3Metrics

if TYPE_CHECKING:
    from upgrader.core.ports import Compute, ControlPlane, Dns, LoadBalancers, Metrics


class Boto3Aws(
    Boto3ControlPlane,
    Boto3Compute,
    Boto3LoadBalancers,
    Boto3Dns,
    Boto3Metrics,
    Boto3CallerIdentity,
):
    """All five AWS ports. Nothing is imported from ~/.aws or built until the first call.

    `Boto3Aws(region="eu-west-1", profile="prod")` for real AWS;
    `Boto3Aws(region="us-east-1", endpoint_url="http://127.0.0.1:5000")` for a moto server;
    `Boto3Aws(session=boto3.Session(...))` to reuse a session;
    `retry=RetryPolicy(sleep=clock.sleep)` to back off in virtual time.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
        retry: RetryPolicy | None = None,
        clients: AwsClients | None = None,
    ) -> None:
        # Every base class only stores `clients`; one shared instance serves them all.
        super().__init__(
            clients
            or AwsClients(
                session=session,
                region=region,
                profile=profile,
                endpoint_url=endpoint_url,
                retry=retry,
            )
        )

    @classmethod
    def with_static_keys(cls, region: str, endpoint_url: str, key: str) -> Boto3Aws:
        """An AWS of fixed keys at `endpoint_url` (a served sandbox): no profile, no
        credentials and no config from the user's environment take part."""
        session = new_session(aws_access_key_id=key, aws_secret_access_key=key, region_name=region)
        return cls(session=session, region=region, endpoint_url=endpoint_url)


if TYPE_CHECKING:
    # mypy proves here that Boto3Aws satisfies every AWS port.
    def _implements_ports(
        aws: Boto3Aws,
    ) -> tuple[ControlPlane, Compute, LoadBalancers, Dns, Metrics]:
        return aws, aws, aws, aws, aws
