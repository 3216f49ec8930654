"""Dry run: the real ports for every read, a record instead of every change.

`execute --dry-run` runs the same steps on the same code path; only the ports differ. Each
wrapper passes reads through to the real port and turns a mutating call into an
`IntendedCall` ("would call eks:UpdateClusterVersion cluster=demo version=1.30"), printed as it
is recorded and returned in the `RunResult`.

The AWS wrappers also keep an overlay of what the recorded calls would have done, so a later
step sees the world the earlier ones would have left: after a recorded control-plane update the
cluster reads at the new version, a recorded green group reads ACTIVE, a deleted blue group
reads gone, an add-on reads at its new version. Without it the second hop's preconditions
would fail against the unchanged cluster and a dry run could not say anything about them.
A scaled workload reads at its new replica count. What no overlay can fake (nodes joining,
pods moving) the steps handle themselves: a wait is
read once and reported instead of waited on, and a drain is reported instead of run.

Neither the journal file, nor its ConfigMap, nor the lock are written in a dry run.

`rollout run --dry-run` runs its step loop on the same wrappers (and `DryRunDns` for Route 53),
with `DryRunCluster(settle=True)`: its waits for pods are run, on what the scales would leave
(`upgrader.usecases.rollout_dry_run`).
"""

from typing import TYPE_CHECKING

from upgrader.core.ports import Cluster, Compute, ControlPlane, Dns, LoadBalancers
from upgrader.execute.dry_run.cluster import DryRunCluster
from upgrader.execute.dry_run.compute import DryRunCompute
from upgrader.execute.dry_run.control_plane import DryRunControlPlane
from upgrader.execute.dry_run.dns import DryRunDns
from upgrader.execute.dry_run.load_balancers import DryRunLoadBalancers
from upgrader.execute.dry_run.record import (
    DRY_RUN_UPDATE_PREFIX,
    Recorder,
    ServerRefusedError,
)
from upgrader.execute.run_result import IntendedCall

__all__ = [
    "DRY_RUN_UPDATE_PREFIX",
    "DryRunCluster",
    "DryRunCompute",
    "DryRunControlPlane",
    "DryRunDns",
    "DryRunLoadBalancers",
    "IntendedCall",
    "Recorder",
    "ServerRefusedError",
]


if TYPE_CHECKING:
    # mypy proves here that each wrapper satisfies its port.
    def _implements_ports(
        a: DryRunControlPlane,
        b: DryRunCompute,
        c: DryRunCluster,
        d: DryRunLoadBalancers,
        e: DryRunDns,
    ) -> tuple[ControlPlane, Compute, Cluster, LoadBalancers, Dns]:
        return a, b, c, d, e
