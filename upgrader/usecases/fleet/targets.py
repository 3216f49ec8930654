"""Opening one fleet member as a `Target`: its account (AssumeRole), region and kube context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from upgrader.usecases.targets import Target


class Address(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def role_arn(self) -> str | None: ...
    @property
    def context(self) -> str | None: ...
    @property
    def kubeconfig(self) -> str | None: ...


@contextmanager
def open_member(cluster: Address, profile: str | None = None) -> Iterator[Target]:
    from upgrader.adapters.aws.adapter import Boto3Aws
    from upgrader.adapters.aws.assume import assumed_session
    from upgrader.adapters.clock import clock_from_environment
    from upgrader.adapters.kubernetes.client import KubernetesCluster

    if cluster.role_arn:
        aws = Boto3Aws(session=assumed_session(cluster.role_arn, cluster.region, profile=profile))
    else:
        aws = Boto3Aws(region=cluster.region, profile=profile)
    clock = clock_from_environment()  # a served sandbox's own date, else the wall clock
    kube = KubernetesCluster.from_kubeconfig(cluster.kubeconfig, cluster.context, clock=clock)
    yield Target(
        cluster_name=cluster.name,
        region=cluster.region,
        control_plane=aws,
        compute=aws,
        kube=kube,
        clock=clock,
        kube_context=cluster.context or "(current context)",
        kube_endpoint=kube.server,
        kube_server_dry_run=kube.server_dry_run(),
    )
