"""Where a command's ports come from: real AWS and a kubeconfig, or the embedded sandbox.

The CLI opens a `Target` and hands its ports to the logic; nothing else knows which world it is
talking to. Real adapters are imported here, lazily, so `eksup --help` imports neither boto3 nor
the kubernetes client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from upgrader.ports import CallerIdentity, Clock, Cluster, Compute, ControlPlane

if TYPE_CHECKING:
    from upgrader.sandbox.world import Sandbox


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
    sandbox: Sandbox | None = None
    caller: CallerIdentity | None = None  # who the AWS credentials are (STS)


@contextmanager
def open_target(
    cluster: str | None,
    *,
    region: str | None,
    profile: str | None,
    context: str | None,
    sandbox: bool,
) -> Iterator[Target]:
    if sandbox:
        with _sandbox_target(cluster) as target:
            yield target
        return
    if not cluster:
        from upgrader.errors import UserError

        raise UserError("--cluster is required (or set EKSUP_CLUSTER), unless --sandbox is given")
    yield _real_target(cluster, region=region, profile=profile, context=context)


@contextmanager
def _sandbox_target(cluster: str | None) -> Iterator[Target]:
    from upgrader.errors import UserError
    from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
    from upgrader.sandbox.world import Sandbox

    if cluster not in (None, DEMO_CLUSTER):
        raise UserError(
            f"the sandbox holds one cluster, {DEMO_CLUSTER!r}; drop --cluster {cluster}"
        )
    with Sandbox() as world:
        build_demo_world(world)
        yield sandbox_target(world, DEMO_CLUSTER)


def sandbox_target(world: Sandbox, cluster: str) -> Target:
    """The ports of one cluster in a running sandbox; its kube context is the cluster's."""
    described = world.aws.describe_cluster(cluster)
    return Target(
        cluster_name=cluster,
        region=world.region,
        control_plane=world.aws,
        compute=world.aws,
        kube=world.kube(cluster),
        clock=world.clock,
        kube_context="sandbox",
        kube_endpoint=described.endpoint,
        kube_ca=described.certificate_authority or None,
        sandbox=world,
        caller=world.aws,
    )


def _real_target(
    cluster: str, *, region: str | None, profile: str | None, context: str | None
) -> Target:
    from upgrader.adapters.boto3_aws import Boto3Aws
    from upgrader.adapters.kubernetes_client import KubernetesCluster
    from upgrader.adapters.system_clock import SystemClock

    aws = Boto3Aws(region=region, profile=profile)
    clock = SystemClock()
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
