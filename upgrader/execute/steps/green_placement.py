"""Before the first cordon of a node replacement: can every pod that moves run on the new nodes?

The plan checked green as its node group's configuration says it will be (checks/capacity.py,
checks/zones.py, upgrader/core/placement.py); this checks the new nodes as they came up, with
the same rules, and refuses, naming the workload and what the new nodes lack, rather than
evict pods that would stay Pending with the old nodes cordoned:
- each pod's nodeSelector, required node affinity and tolerations (placement);
- its bound PersistentVolumes' zones (volume_zones), when it has claims;
- its DoNotSchedule topology spread, replayed over the drain with the old nodes still counting
  and every other node of the cluster as it is (spread), when it has such constraints.
Used by the blue/green step (green: the new node group) and the self-managed step (green: the
group's instances on the new AMI).
"""

from __future__ import annotations

from collections.abc import Sequence

from upgrader.core.errors import PermissionDeniedError
from upgrader.core.kube import NODEGROUP_LABEL, Node, Pod
from upgrader.core.placement import NodeShape, placement_problem
from upgrader.core.spread import Placed, hard_spreads, spread_problem
from upgrader.core.volume_zones import bound_volumes, volume_problem
from upgrader.drain.rules import DrainOptions, Verdict, decide_all
from upgrader.execute.steps.base import StepContext, StepFailedError


def check_green_placement(ctx: StepContext, blue: str, green: str, moving: list[Pod]) -> None:
    """Before the first cordon of `blue`: every pod the drain will move must be able to run on
    a Ready node of node group `green`; else refuse, naming them."""
    nodes = ctx.ports.cluster.list_nodes(label_selector=f"{NODEGROUP_LABEL}={green}")
    old = ctx.ports.cluster.list_nodes(label_selector=f"{NODEGROUP_LABEL}={blue}")
    problems = placement_problems(ctx, [n for n in nodes if n.ready], old, moving)
    if problems:
        raise StepFailedError(
            f"refused before cordoning {blue}: pods it runs cannot run on any Ready node of "
            f"{green}: {named(problems)}. Nothing was cordoned or evicted. To go on: give "
            f"{green} what they need (labels or taints in its configuration, subnets in the "
            f"zones they need) or change the workloads, then --resume. To go back: delete node "
            f"group {green}"
        )


def moving_off(pods: Sequence[Pod], options: DrainOptions) -> list[Pod]:
    """The pods of a node its drain will evict (kubectl's filters), not yet going."""
    return [
        d.pod
        for d in decide_all(pods, options)
        if d.verdict is Verdict.EVICT and not d.pod.is_finished and not d.pod.is_terminating
    ]


def named(problems: dict[str, set[str]]) -> str:
    return "; ".join(
        f"{', '.join(sorted(workloads)[:5])}: {problem}"
        for problem, workloads in sorted(problems.items())
    )


def placement_problems(
    ctx: StepContext, green: Sequence[Node], old: Sequence[Node], moving: Sequence[Pod]
) -> dict[str, set[str]]:
    """What each moving pod lacks on the Ready `green` nodes, by problem: the workloads.
    Empty when there is no green node (a dry run: green was not made)."""
    shapes = [NodeShape.of(n) for n in green]
    if not shapes:
        return {}
    moved = [p for p in moving if p.owner is not None and p.owner.controller]
    problems: dict[str, set[str]] = {}
    for pod in moved:  # forced bare pods are not recreated anywhere
        problem = placement_problem(pod.spec, shapes)
        if problem is not None:
            problems.setdefault(problem, set()).add(_workload_label(pod))
    if any(v.persistent_claim for p in moved for v in p.spec.volumes):
        _volume_problems(ctx, moved, shapes, problems)
    spreading = [p for p in moved if hard_spreads(p)]
    if spreading:
        _spread_problems(ctx, spreading, old, problems)
    return problems


def _volume_problems(
    ctx: StepContext, moved: Sequence[Pod], shapes: Sequence[NodeShape], out: dict[str, set[str]]
) -> None:
    try:
        volumes = ctx.ports.cluster.list_persistent_volumes()
    except PermissionDeniedError as error:
        ctx.reporter.warning(
            f"volume zones not checked before the cordon: {error} (grant list on "
            "persistentvolumes to check that pods with EBS volumes can follow)"
        )
        return
    by_claim = {v.claim: v for v in volumes if v.claim}
    for pod in moved:
        problem = volume_problem(pod, bound_volumes(pod, by_claim), shapes)
        if problem is not None:
            out.setdefault(problem, set()).add(_workload_label(pod))


def _spread_problems(
    ctx: StepContext, spreading: Sequence[Pod], old: Sequence[Node], out: dict[str, set[str]]
) -> None:
    cluster = ctx.ports.cluster
    pods_by_node: dict[str, list[Pod]] = {}
    for pod in cluster.list_pods():
        if pod.node_name:
            pods_by_node.setdefault(pod.node_name, []).append(pod)
    old_names = {n.name for n in old}

    def placed(node: Node, *, takes: bool) -> Placed:
        return Placed(NodeShape.of(node), tuple(pods_by_node.get(node.name, ())), takes)

    blue = [placed(n, takes=False) for n in old]
    # Green's nodes are among the others: they are real now, and may already run such pods.
    others = [
        placed(n, takes=n.ready and not n.unschedulable)
        for n in cluster.list_nodes()
        if n.name not in old_names
    ]
    groups: dict[tuple[str, object], list[Pod]] = {}
    for pod in spreading:
        groups.setdefault((_workload_label(pod), pod.spec.topology_spread), []).append(pod)
    for (workload, _), pods in groups.items():
        problem = spread_problem(pods, blue, others, [])
        if problem is not None:
            out.setdefault(problem, set()).add(workload)


def _workload_label(pod: Pod) -> str:
    owner = pod.owner
    if owner is None:
        return pod.key
    name = owner.name
    suffix = pod.labels.get("pod-template-hash")
    if owner.kind == "ReplicaSet" and suffix and name.endswith(f"-{suffix}"):
        name = name[: -len(suffix) - 1]  # the Deployment's name
    return f"{pod.namespace}/{name}"


workload_label = _workload_label  # "namespace/deployment": how refusals name a pod's workload
