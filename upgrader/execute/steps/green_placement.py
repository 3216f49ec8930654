"""Before the first cordon of a blue/green replacement: can every pod that moves run on green?

The plan checked green as its node group's configuration says it will be (checks/capacity.py,
upgrader/core/placement.py); this checks the green nodes as they came up, with the same rules, and
refuses, naming the workload and what green lacks, rather than evict pods that would stay
Pending with blue cordoned.
"""

from __future__ import annotations

from upgrader.core.kube import NODEGROUP_LABEL, Pod
from upgrader.core.placement import NodeShape, placement_problem
from upgrader.execute.steps.base import StepContext, StepFailedError


def check_green_placement(ctx: StepContext, blue: str, green: str, moving: list[Pod]) -> None:
    """Before the first cordon: every pod the drain will move must fit a Ready green node's
    labels and taints (nodeSelector, required node affinity, tolerations). The plan checked
    green as its configuration says it will be; this checks the nodes as they came up, and
    refuses, naming the workload and what green lacks, rather than evict pods that would stay
    Pending."""
    nodes = ctx.ports.cluster.list_nodes(label_selector=f"{NODEGROUP_LABEL}={green}")
    shapes = [NodeShape.of(n) for n in nodes if n.ready]
    if not shapes:
        return  # a dry run: green was not made
    problems: dict[str, set[str]] = {}
    for pod in moving:
        if pod.owner is None or not pod.owner.controller:
            continue  # forced bare pods are not recreated anywhere
        problem = placement_problem(pod.spec, shapes)
        if problem is not None:
            problems.setdefault(problem, set()).add(_workload_label(pod))
    if problems:
        named = "; ".join(
            f"{', '.join(sorted(workloads)[:5])}: {problem}"
            for problem, workloads in sorted(problems.items())
        )
        raise StepFailedError(
            f"refused before cordoning {blue}: pods it runs cannot run on any Ready node of "
            f"{green}: {named}. Nothing was cordoned or evicted. To go on: give {green} what "
            f"they need (labels or taints in its configuration) or change the workloads, then "
            f"--resume. To go back: delete node group {green}"
        )


def _workload_label(pod: Pod) -> str:
    owner = pod.owner
    if owner is None:
        return pod.key
    name = owner.name
    suffix = pod.labels.get("pod-template-hash")
    if owner.kind == "ReplicaSet" and suffix and name.endswith(f"-{suffix}"):
        name = name[: -len(suffix) - 1]  # the Deployment's name
    return f"{pod.namespace}/{name}"
