"""Before the karpenter-drift step changes anything: can every pod that drift moves land?

The plan checked the NodePools as they were then (checks/karpenter_placement.py); this reads
them again as the step starts, with the same rules (upgrader/core/nodepool_shapes.py), and
refuses, naming the workloads and what the NodePool's new nodes lack (a label, a toleration, the
zone of a bound EBS volume, room for a DoNotSchedule zone spread, an instance large enough,
room in its spec.limits for a replacement), rather than point the
pool at a new AMI whose nodes those pods cannot run on. Karpenter's own disruption simulation
would then keep the old nodes and the step would wait out its timeout, or, if the pods were
evicted anyway, leave them Pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from upgrader.core.errors import PermissionDeniedError
from upgrader.core.kube import KARPENTER_NODEPOOL_LABEL, Node, NodePool, Pod
from upgrader.core.nodepool_room import (
    instance_sizes,
    limits_problem,
    spare_outside,
    too_big_problems,
)
from upgrader.core.nodepool_shapes import drift_problems, moves_on_drift
from upgrader.core.nodepool_zones import drift_spread_problems, drift_volume_problems, live_zones
from upgrader.core.spread import hard_spreads
from upgrader.execute.steps.base import PreconditionError, StepContext
from upgrader.execute.steps.green_placement import named, workload_label


def read_node_pools(ctx: StepContext) -> list[NodePool]:
    """Every NodePool now; a denied read refuses (nothing changed) rather than let pods go
    unchecked."""
    try:
        return ctx.ports.cluster.list_node_pools()
    except PermissionDeniedError as error:
        raise PreconditionError(
            f"cannot read Karpenter NodePools to check where their pods will land ({error}): "
            f"grant {error.action or 'list on nodepools.karpenter.sh'} to the identity eksup "
            "runs as, then --resume. Nothing was changed"
        ) from None


def check_drift_placement(
    ctx: StepContext, pool: NodePool, pools: Sequence[NodePool], pods: Sequence[Pod] = ()
) -> None:
    """Refuse (nothing changed) when a pod on `pool`'s nodes fits no NodePool's new nodes.
    `pods`: every pod of the cluster, when the caller listed them already."""
    cluster = ctx.ports.cluster
    nodes = cluster.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}={pool.name}")
    names = {n.name for n in nodes}
    # One list of every pod, not one per node: a pool may have hundreds of nodes.
    everything = pods or (cluster.list_pods() if names else [])
    moving = [p for p in everything if p.node_name in names and moves_on_drift(p)]
    problems = drift_problems(pool, pools, nodes, moving, workload_label)
    if moving:
        # The whole cluster as it is now, read and grouped once for the zone and room checks.
        pods_on: dict[str, list[Pod]] = {}
        for pod in everything:
            if pod.node_name:
                pods_on.setdefault(pod.node_name, []).append(pod)
        now = (cluster.list_nodes(), pods_on)
        _zonal_problems(ctx, pool, pools, nodes, moving, now=now, out=problems)
        _room_problems(pool, pools, nodes, moving, now=now, out=problems)
    if problems:
        raise PreconditionError(
            f"refused before changing anything for NodePool {pool.name}: pods on its nodes "
            f"cannot run on the nodes it creates now (nor on any other NodePool's): "
            f"{named(problems)}. Karpenter would keep those nodes (or leave the pods Pending). "
            f"To go on: add what they need to NodePool {pool.name} (labels in "
            "spec.template.metadata.labels, or requirements, the zones of their volumes and "
            "spread, instance sizes; tolerations for its taints; room in its spec.limits) or "
            "change the workloads, then --resume"
        )


def check_pools_placement(ctx: StepContext, names: Sequence[str]) -> None:
    """Pre-flight: the same check for every NodePool the plan drifts that exists now (a
    missing one is refused by its own step)."""
    pools = read_node_pools(ctx)
    drifting = [pool for pool in pools if pool.name in names]
    pods = ctx.ports.cluster.list_pods() if drifting else []
    for pool in drifting:
        check_drift_placement(ctx, pool, pools, pods)


def _zonal_problems(
    ctx: StepContext,
    pool: NodePool,
    pools: Sequence[NodePool],
    nodes: Sequence[Node],
    moving: Sequence[Pod],
    *,
    now: tuple[Sequence[Node], Mapping[str, Sequence[Pod]]],
    out: dict[str, set[str]],
) -> None:
    """EBS volumes and DoNotSchedule spread against the zones the NodePools may use now
    (upgrader/core/nodepool_zones.py), with every node and pod of the cluster as they are
    (`now`: the nodes, and the pods by node)."""
    needs_nodes = any(hard_spreads(p) for p in moving)
    claims = any(v.persistent_claim for p in moving for v in p.spec.volumes)
    if not (needs_nodes or claims):
        return  # the common case: nothing ties these pods to a zone
    all_nodes = now[0]
    launchable = _class_zones(ctx)
    if claims:
        try:
            volumes = ctx.ports.cluster.list_persistent_volumes()
        except PermissionDeniedError as error:
            ctx.reporter.warning(
                f"volume zones not checked before drifting NodePool {pool.name}: {error} "
                "(grant list on persistentvolumes to check that pods with EBS volumes can "
                "follow)"
            )
            volumes = []
        by_claim = {v.claim: v for v in volumes if v.claim}
        found = drift_volume_problems(
            pool,
            pools,
            nodes,
            moving,
            by_claim=by_claim,
            name=workload_label,
            known=live_zones(all_nodes),
            class_zones=launchable,
        )
        for problem, workloads in found.items():
            out.setdefault(problem, set()).update(workloads)
    if needs_nodes:
        found = drift_spread_problems(
            pool,
            pools,
            nodes,
            moving,
            cluster=now,
            name=workload_label,
            class_zones=launchable,
        )
        for problem, workloads in found.items():
            out.setdefault(problem, set()).update(workloads)


def _room_problems(
    pool: NodePool,
    pools: Sequence[NodePool],
    nodes: Sequence[Node],
    moving: Sequence[Pod],
    *,
    now: tuple[Sequence[Node], Mapping[str, Sequence[Pod]]],
    out: dict[str, set[str]],
) -> None:
    """Requests against the largest node the NodePools may launch (instance sizes from the
    live nodes), and `pool`'s spec.limits against a replacement (upgrader/core/nodepool_room.py).
    """
    all_nodes, pods_on = now
    found = too_big_problems(pool, pools, moving, workload_label, instance_sizes(all_nodes))
    for problem, workloads in found.items():
        out.setdefault(problem, set()).update(workloads)
    if pool.limits.empty:
        return
    spare = spare_outside(all_nodes, pods_on, (n.name for n in nodes))
    short = limits_problem(pool, pools, nodes, moving, spare)
    if short is not None:
        problem, pods = short
        out.setdefault(problem, set()).update(workload_label(p) for p in pods)


def _class_zones(ctx: StepContext) -> dict[str, tuple[str, ...]]:
    """EC2NodeClass name -> its subnets' zones; empty when not readable (the cluster's nodes'
    zones then stand for where a pool with no zone requirement may launch)."""
    try:
        classes = ctx.ports.cluster.list_node_classes()
    except PermissionDeniedError:
        return {}
    return {c.name: c.zones for c in classes if c.zones}
