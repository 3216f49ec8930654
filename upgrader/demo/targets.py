"""`--sandbox`: the demo cluster as a command's `Target`, served or embedded; the sandbox fleet
as `eksup fleet ... --sandbox`'s members and pool.

Moved out of `upgrader.usecases.targets` so that no use case imports the sandbox: the CLI
(`upgrader.cli.targets`) opens this target and hands it to the use cases, like a real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from upgrader.usecases.targets import Target

if TYPE_CHECKING:
    from upgrader.sandbox.daemon import ServedSandbox
    from upgrader.sandbox.world import Sandbox
    from upgrader.usecases.fleet.planning import Opener
    from upgrader.usecases.fleet.pool import Pool


@contextmanager
def open_sandbox_target(cluster: str | None) -> Iterator[Target]:
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


@contextmanager
def open_sandbox_fleet() -> Iterator[tuple[Opener, Pool]]:
    """The sandbox fleet's members and pool: the one `eksup sandbox up --fleet` serves (one
    world that every command sees and changes), else an embedded one on virtual time."""
    from upgrader.adapters.clock import ServedSandboxClock
    from upgrader.sandbox.daemon import running_sandbox, sandbox_directory, served_fleet
    from upgrader.usecases.fleet.pool import ThreadPool, TurnTakingPool

    served = running_sandbox(sandbox_directory())
    if served is not None and served_fleet(served.directory):
        from upgrader.demo.served_fleet import served_fleet_opener

        # `eksup sandbox up --fleet`: one world that every command sees and changes.
        yield served_fleet_opener(served), ThreadPool(ServedSandboxClock(served.clock_url))
        return
    from upgrader.demo.fleet_world import build_fleet_world, sandbox_fleet_opener
    from upgrader.sandbox.world import Sandbox

    with Sandbox() as world:
        build_fleet_world(world)
        yield sandbox_fleet_opener(world), TurnTakingPool(world.clock)
