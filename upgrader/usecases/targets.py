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

from upgrader.core.ports import CallerIdentity, Clock, Cluster, Compute, ControlPlane

if TYPE_CHECKING:
    from upgrader.sandbox.daemon import ServedSandbox
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


@contextmanager
def _sandbox_target(cluster: str | None) -> Iterator[Target]:
    """The served sandbox when one runs (one world that every command sees and changes), else
    a fresh embedded demo world that lives as long as this command."""
    from upgrader.core.errors import UserError
    from upgrader.sandbox.daemon import running_sandbox, sandbox_directory, served_fleet
    from upgrader.sandbox.demo_world import DEMO_CLUSTER
    from upgrader.sandbox.mixed_world import build_chosen_world
    from upgrader.sandbox.world import Sandbox

    if cluster not in (None, DEMO_CLUSTER):
        raise UserError(
            f"the sandbox holds one cluster, {DEMO_CLUSTER!r}; drop --cluster {cluster}"
        )
    served = running_sandbox(sandbox_directory())
    if served is not None and served_fleet(served.directory):
        raise UserError(
            f"the sandbox served from {served.directory} is the fleet (`sandbox up --fleet`), "
            "not the demo cluster: use `eksup fleet ... --sandbox`, or `eksup sandbox down` "
            "then `eksup sandbox up`"
        )
    if served is not None:
        yield _served_sandbox_target(served, DEMO_CLUSTER)
        return
    with Sandbox() as world:
        build_chosen_world(world)  # EKSUP_SANDBOX_WORLD: demo (default) or mixed
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


def _served_sandbox_target(served: ServedSandbox, cluster: str) -> Target:
    """The real adapters, aimed at `eksup sandbox up`'s servers by its files alone: the user's
    shell (AWS_PROFILE, KUBECONFIG, ...) plays no part."""
    from upgrader.adapters.aws.adapter import Boto3Aws
    from upgrader.adapters.clock import ServedSandboxClock
    from upgrader.adapters.kubernetes.client import KubernetesCluster

    aws = Boto3Aws.with_static_keys(served.region, served.aws_url, key="sandbox")
    clock = ServedSandboxClock(served.clock_url)
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig), clock=clock)
    return Target(
        cluster_name=cluster,
        region=served.region,
        control_plane=aws,
        compute=aws,
        kube=kube,
        clock=clock,
        kube_context="sandbox",
        kube_endpoint=kube.server,
        kube_server_dry_run=kube.server_dry_run(),
    )


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
