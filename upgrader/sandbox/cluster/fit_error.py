"""Why no node takes a pod, in kube-scheduler's words: the message of PodScheduled=False.

When a scheduling attempt fails, kube-scheduler writes the pod's PodScheduled condition with
status False, reason Unschedulable and its FitError as the message (pkg/scheduler/schedule_one.go,
handleSchedulingFailure). The message counts, over every node, the reason the first failing
filter gave, then what preemption found (pkg/scheduler/framework/types.go, FitError.Error):

    0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption:
    0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption
    victims found for incoming pod.

Filters run in the default profile's order and stop at the first that fails on a node:
NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit, VolumeBinding (pkg/scheduler/
apis/config/v1/default_plugins.go). The first three and VolumeBinding's conflict are
UnschedulableAndUnresolvable, so preemption says it is "not helpful" there; a node short of room
could be helped only by evicting lower-priority pods, and the fake's pods all have priority 0,
so preemption finds no victims (pkg/scheduler/framework/preemption/preemption.go).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from upgrader.core.kube import Node, PodSpec, Resources, TaintEffect
from upgrader.sandbox.cluster.scheduler import NOT_READY_TAINT, UNSCHEDULABLE_TAINT

# pkg/scheduler/schedule_one.go: ErrNoNodesAvailable, when the cluster has no node at all.
NO_NODES = "no nodes available to schedule pods"
# The plugins' reasons (pkg/scheduler/framework/plugins/...).
UNSCHEDULABLE = "node(s) were unschedulable"  # nodeunschedulable
NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"  # nodeaffinity ErrReasonPod
VOLUME_AFFINITY = "node(s) had volume node affinity conflict"  # volumebinding
TOO_MANY_PODS = "Too many pods"  # noderesources/fit.go
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"

_FILTERED_EFFECTS = (TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE)


def node_reasons(
    spec: PodSpec, own: PodSpec, node: Node, free: Resources, pinned: str | None
) -> tuple[list[str], bool]:
    """The first failing filter's reasons on `node`, and whether preemption could resolve them.
    `spec` is the pod's spec with its bound volumes' node affinity ANDed in, `own` without it;
    `pinned` is the node a DaemonSet pod's matchFields affinity names. No reasons: it fits."""
    if pinned is not None and node.name != pinned:
        return [NODE_AFFINITY], False
    if node.unschedulable and not any(t.tolerates(UNSCHEDULABLE_TAINT) for t in spec.tolerations):
        return [UNSCHEDULABLE], False
    taints = node.taints if node.ready else (*node.taints, NOT_READY_TAINT)
    for taint in taints:
        if taint.effect in _FILTERED_EFFECTS and not any(
            t.tolerates(taint) for t in spec.tolerations
        ):
            return [f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"], False
    if not _selects(own, node):
        return [NODE_AFFINITY], False
    if not _selects(spec, node):
        return [VOLUME_AFFINITY], False
    reasons = []
    if free.pods < 1:
        reasons.append(TOO_MANY_PODS)
    if spec.requests.cpu_millis > free.cpu_millis:
        reasons.append("Insufficient cpu")
    if spec.requests.memory_bytes > free.memory_bytes:
        reasons.append("Insufficient memory")
    return reasons, True


def _selects(spec: PodSpec, node: Node) -> bool:
    labels = node.labels
    return all(labels.get(k) == v for k, v in spec.node_selector.items()) and (
        spec.node_affinity.matches(labels)
    )


def fit_error(verdicts: Iterable[tuple[list[str], bool]]) -> str:
    """FitError.Error() over every node's `node_reasons`, preemption's message included."""
    filters: Counter[str] = Counter()
    preemption: Counter[str] = Counter()
    total = 0
    for reasons, resolvable in verdicts:
        total += 1
        filters.update(reasons)
        if reasons:
            preemption[NO_VICTIMS if resolvable else NOT_HELPFUL] += 1
    if total == 0:
        return NO_NODES
    return (
        f"0/{total} nodes are available: {_histogram(filters)}. "
        f"preemption: 0/{total} nodes are available: {_histogram(preemption)}."
    )


def _histogram(counts: Counter[str]) -> str:
    # "%v %v" (count, reason), sorted as strings (Go's sort.Strings), joined with ", "
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))
