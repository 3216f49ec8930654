"""Where a command's ports come from: real AWS and a kubeconfig (here), or the sandbox.

The CLI opens a `Target` (`upgrader.cli.targets`: this module's real one, or the sandbox's from
`upgrader.demo.targets`) and hands its ports to the logic; nothing else knows which world it is
talking to. A use case that opens a target itself is handed the CLI's `OpenTarget`, so no use
case imports the sandbox. Real adapters are imported here, lazily, so `eksup --help` imports
neither boto3 nor the kubernetes client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from upgrader.core.ports import CallerIdentity, Clock, Cluster, Compute, ControlPlane

if TYPE_CHECKING:
    from upgrader.execute.steps.base import Ports


@dataclass
class Target:
    cluster_name: str
    region: str
    control_plane: ControlPlane
    compute: Compute
    kube: Cluster
    clock: Clock
    kube_context: str = ""
    kube_endpoint: str | None = None  # the API server URL the kubeconfig context points at
    kube_ca: str | None = None  # the CA (base64 PEM) the context trusts; None: none given
    kube_server_dry_run: Cluster | None = None  # writes validated, not kept (dryRun=All)
    caller: CallerIdentity | None = None  # who the AWS credentials are (STS)


def engine_ports(target: Target, clock: Clock | None = None) -> Ports:
    """The upgrade engine's ports on `target`, on its own clock or on `clock` (a fleet's)."""
    from upgrader.execute.steps.base import Ports  # the engine, only once a command runs one

    return Ports(
        cluster=target.kube,
        control_plane=target.control_plane,
        compute=target.compute,
        clock=clock or target.clock,
        server_dry_run=target.kube_server_dry_run,
    )


class OpenTarget(Protocol):
    """How a command opens its target (`upgrader.cli.targets.open_target`)."""

    def __call__(
        self,
        cluster: str | None,
        *,
        region: str | None,
        profile: str | None,
        context: str | None,
        sandbox: bool,
    ) -> AbstractContextManager[Target]: ...


@contextmanager
def open_real_target(
    cluster: str | None,
    *,
    region: str | None,
    profile: str | None,
    context: str | None,
) -> Iterator[Target]:
    from upgrader.usecases.kube_context import infer_cluster

    # An EKS ARN kube context (aws eks update-kubeconfig) names the cluster and its region.
    cluster, region = infer_cluster(cluster, region, context)
    if not cluster:
        from upgrader.core.errors import UserError

        raise UserError(
            "--cluster is required (or set EKSUP_CLUSTER, or use a kube context named by its "
            "EKS ARN), unless --sandbox is given"
        )
    yield _real_target(cluster, region=region, profile=profile, context=context)


def _real_target(
    cluster: str, *, region: str | None, profile: str | None, context: str | None
) -> Target:
    from upgrader.adapters.aws.adapter import Boto3Aws
    from upgrader.adapters.clock import clock_from_environment
    from upgrader.adapters.kubernetes.client import KubernetesCluster

    aws = Boto3Aws(region=region, profile=profile)
    clock = clock_from_environment()
    kube = KubernetesCluster.from_kubeconfig(context=context, clock=clock)
    return Target(
        cluster_name=cluster,
        region=aws.clients.session.region_name or "",
        control_plane=aws,
        compute=aws,
        kube=kube,
        clock=clock,
        kube_context=context or "(current context)",
        kube_endpoint=kube.server,
        kube_ca=kube.ca_data,
        kube_server_dry_run=kube.server_dry_run(),
        caller=aws,
    )
