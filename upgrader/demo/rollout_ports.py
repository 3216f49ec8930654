"""Where `eksup rollout ... --sandbox` gets its ports: the served sandbox, or an embedded world.

Apart from the sandbox's `rollout_world` (which builds the examples' resources, and which
`eksup sandbox serve` also runs) so that the daemon and the world builder do not import each
other; in the demo layer with the other `--sandbox` targets, so the CLI needs no sandbox import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from strategies.ports import RolloutPorts
from upgrader.core.errors import UserError
from upgrader.sandbox.daemon import ServedSandbox, running_sandbox, sandbox_directory
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.rollout_world import build_rollout_world
from upgrader.sandbox.world import Sandbox


@contextmanager
def sandbox_rollout_ports(*, served_only: bool = False) -> Iterator[RolloutPorts]:
    """`eksup rollout ... --sandbox`: the served sandbox when `eksup sandbox up` runs (its
    world holds the examples' resources too, and keeps the rollout's state between commands,
    so `rollout status --watch` in one shell follows `rollout run` in another); else the demo
    cluster with the examples' resources, in this process and on virtual time (a new world per
    command: its state ends with it). `served_only`: a command that only makes sense on a world
    that outlives it (status, promote, abort, rollback) refuses the embedded one."""
    directory = sandbox_directory()
    served = running_sandbox(directory)
    if served is not None:
        yield served_rollout_ports(served)
        return
    if served_only:
        raise UserError(
            f"no sandbox is served from {directory}: start one with `eksup sandbox up`, then "
            "`rollout run SPEC --sandbox` there (an embedded --sandbox run's state ends with "
            "its command, so there is nothing to follow, promote or abort)"
        )
    with Sandbox() as world:
        build_demo_world(world)
        build_rollout_world(world)
        yield RolloutPorts(world.aws, world.aws, world.aws, world.clock, world.kube(DEMO_CLUSTER))


def served_rollout_ports(served: ServedSandbox) -> RolloutPorts:
    """The real adapters aimed at `eksup sandbox up`'s servers by its files alone (the user's
    AWS_PROFILE or KUBECONFIG play no part), on the served sandbox's clock."""
    from upgrader.adapters.aws.adapter import Boto3Aws
    from upgrader.adapters.clock import ServedSandboxClock
    from upgrader.adapters.http_probe import UrllibHttpProbe
    from upgrader.adapters.kubernetes.client import KubernetesCluster

    aws = Boto3Aws.with_static_keys(served.region, served.aws_url, key="sandbox")
    clock = ServedSandboxClock(served.clock_url)
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig), clock=clock)
    return RolloutPorts(aws, aws, aws, clock, kube, UrllibHttpProbe())
