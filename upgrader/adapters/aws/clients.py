"""The boto3 clients the AWS adapters share: one Session, created lazily, each client once.

A boto3 client costs ~40 ms to build and a Session reads ~/.aws on creation, so nothing is built
until a command first talks to a service; `eksup --help` and a plan that never touches ELBv2 pay
nothing for it. `endpoint_url` points every client at one endpoint (the sandbox's moto server).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from upgrader.adapters.aws.retry import (
    AwsCall,
    RetryPolicy,
    botocore_config,
    translate_botocore_error,
)
from upgrader.adapters.aws.sessions import new_session

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_ssm import SSMClient


def epoch(moment: datetime | None) -> float:
    """boto3 timestamps (aware datetimes) as seconds since the epoch; 0.0 when absent."""
    return moment.timestamp() if moment is not None else 0.0


class AwsClients:
    """Lazily built, cached boto3 clients plus one `AwsCall` per IAM service prefix.

    Pass `session` to reuse one (tests, the sandbox); otherwise one is made from `profile` and
    `region` (None means boto3's usual environment and config-file lookup).
    """

    def __init__(
        self,
        *,
        session: boto3.Session | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        retry: RetryPolicy | None = None,
        config: Config | None = None,
    ) -> None:
        self._session = session
        self._region = region
        self._profile = profile
        self.endpoint_url = endpoint_url
        self.retry = retry or RetryPolicy()
        self._config = config or botocore_config()
        # boto3 Sessions are not thread-safe for building clients; drains run in threads.
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        # One retrying caller per IAM action prefix, so errors name "eks:DescribeCluster" and
        # not botocore's signing names ("monitoring" for CloudWatch).
        self.call_eks = AwsCall("eks", self.retry)
        self.call_ec2 = AwsCall("ec2", self.retry)
        self.call_autoscaling = AwsCall("autoscaling", self.retry)
        self.call_ssm = AwsCall("ssm", self.retry)
        self.call_elbv2 = AwsCall("elasticloadbalancing", self.retry)
        self.call_route53 = AwsCall("route53", self.retry)
        self.call_cloudwatch = AwsCall("cloudwatch", self.retry)
        self.call_sts = AwsCall("sts", self.retry)

    @property
    def session(self) -> boto3.Session:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> boto3.Session:
        if self._session is None:
            try:
                self._session = new_session(profile_name=self._profile, region_name=self._region)
            except BotoCoreError as e:
                raise translate_botocore_error(e) from e
        return self._session

    def _client(self, service: str) -> Any:
        # Any stays inside this class: each typed property below narrows it to its stub type.
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                session = self._session_locked()
                try:
                    client = session.client(
                        service,  # type: ignore[call-overload]
                        region_name=self._region,
                        endpoint_url=self.endpoint_url,
                        config=self._config,
                    )
                except BotoCoreError as e:
                    raise translate_botocore_error(e) from e
                self._clients[service] = client
            return client

    @property
    def eks(self) -> EKSClient:
        client: EKSClient = self._client("eks")
        return client

    @property
    def ec2(self) -> EC2Client:
        client: EC2Client = self._client("ec2")
        return client

    @property
    def autoscaling(self) -> AutoScalingClient:
        client: AutoScalingClient = self._client("autoscaling")
        return client

    @property
    def ssm(self) -> SSMClient:
        client: SSMClient = self._client("ssm")
        return client

    @property
    def elbv2(self) -> ElasticLoadBalancingv2Client:
        client: ElasticLoadBalancingv2Client = self._client("elbv2")
        return client

    @property
    def route53(self) -> Route53Client:
        client: Route53Client = self._client("route53")
        return client

    @property
    def cloudwatch(self) -> CloudWatchClient:
        client: CloudWatchClient = self._client("cloudwatch")
        return client

    @property
    def sts(self) -> Any:
        # No stub package for STS is installed; its one call here returns a plain dict.
        return self._client("sts")
