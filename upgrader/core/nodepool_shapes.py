"""The nodes a Karpenter NodePool will create, as placement sees them, and who cannot move there.

When Karpenter replaces a drifted node, the pods on it land on nodes made from the NodePool's
template as it is now, not on copies of the live node: a label someone put on the live nodes by
hand does not come back. What a new node carries (Karpenter's docs,
aws/karpenter-provider-aws website/content/en/docs/concepts/scheduling.md "Well-Known Labels"
and "User-Defined Labels"; nodepools.md on taints and startupTaints):

- `spec.template.metadata.labels`, as they are;
- each key of `spec.template.spec.requirements`: Karpenter intersects the pool's requirements
  with the pod's and labels the node with a value of the result, so a key `In` several values
  can meet a nodeSelector on any one of them, `Exists` meets any value, `NotIn` any other
  value, `DoesNotExist` none (a `LabelRange`). A custom label in neither place is not put on
  any node ("it will not launch nodes with these labels and pods will remain pending");
- the well-known labels Karpenter derives from the instance it launches (zone, instance type,
  arch, os, capacity type, the karpenter.k8s.aws/instance-* family): restricted by the pool's
  requirements when it has some on them, otherwise any value;
- karpenter.sh/nodepool (the pool's name) and the EC2NodeClass's name, and the labels the
  kubelet and the cloud provider set on every node (taken from the live nodes, by domain);
- `spec.template.spec.taints`. `startupTaints` are removed before pods land and never count.

Karpenter's disruption simulation may place a pod on a node of any NodePool, so a pod that some
other pool's nodes take is fine; existing nodes outside Karpenter are not counted as places
(they may be full, or being replaced themselves): stricter, never looser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from upgrader.core.kube import (
    KARPENTER_NODECLASS_LABEL,
    KARPENTER_NODEPOOL_LABEL,
    Node,
    NodePool,
    Pod,
    SelectorRequirement,
)
from upgrader.core.placement import (
    NODE_SPECIFIC_LABELS,
    LabelRange,
    NodeShape,
    is_system_label,
    placement_problem,
)

# Well-known labels Karpenter puts on every node it launches, from the instance; the deprecated
# aliases (beta.kubernetes.io/arch, ...) follow their stable key, as Karpenter translates them.
WELL_KNOWN: Mapping[str, tuple[str, ...]] = {
    "topology.kubernetes.io/zone": (
        "failure-domain.beta.kubernetes.io/zone",
        "topology.ebs.csi.aws.com/zone",
    ),
    "node.kubernetes.io/instance-type": ("beta.kubernetes.io/instance-type",),
    "kubernetes.io/arch": ("beta.kubernetes.io/arch",),
    "kubernetes.io/os": ("beta.kubernetes.io/os",),
    "karpenter.sh/capacity-type": (),
    "topology.k8s.aws/zone-id": (),
}
# Instance facts Karpenter's AWS provider labels nodes with (the same docs table); some only
# for some instances (a GPU's name on a GPU instance), so they may be absent unless a
# requirement names them.
AWS_INSTANCE_PREFIX = "karpenter.k8s.aws/instance-"
AWS_INSTANCE_LABELS = tuple(
    AWS_INSTANCE_PREFIX + fact
    for fact in (
        "hypervisor",
        "encryption-in-transit-supported",
        "category",
        "generation",
        "family",
        "size",
        "cpu",
        "cpu-manufacturer",
        "memory",
        "ebs-bandwidth",
        "network-bandwidth",
        "pods",
        "gpu-name",
        "gpu-manufacturer",
        "gpu-count",
        "gpu-memory",
        "local-nvme",
    )
)
# Labels Karpenter sets when the node registers and initializes.
_LIFECYCLE = {"karpenter.sh/registered": "true", "karpenter.sh/initialized": "true"}


def nodepool_shape(pool: NodePool, live: Sequence[Node] = ()) -> NodeShape:
    """What every node `pool` creates from now on carries (one shape: the ranges cover the
    choices Karpenter makes per node)."""
    labels: dict[str, str] = {}
    # The kubelet's and the cloud provider's labels (not hand-set domains), as the live nodes
    # show them; the well-known ones are redone below from the pool.
    for node in live:
        for key, value in node.labels.items():
            if is_system_label(key) and key not in NODE_SPECIFIC_LABELS:
                labels.setdefault(key, value)
    labels.update(_LIFECYCLE)
    labels.update(pool.labels)
    labels[KARPENTER_NODEPOOL_LABEL] = pool.name
    if pool.node_class:
        labels[KARPENTER_NODECLASS_LABEL] = pool.node_class
    labels["kubernetes.io/hostname"] = "<its own name>"

    by_key: dict[str, list[SelectorRequirement]] = {}
    for requirement in pool.requirements:
        by_key.setdefault(requirement.key, []).append(requirement)
    ranges: dict[str, LabelRange] = {}
    for key, aliases in WELL_KNOWN.items():
        for name in (key, *aliases):
            labels.pop(name, None)
            ranges[name] = LabelRange(tuple(_rekey(by_key.get(key, ()), name)), always=True)
    for key in AWS_INSTANCE_LABELS:
        ranges[key] = LabelRange()
    for key, wanted in by_key.items():
        if key in WELL_KNOWN or key in pool.labels:
            continue
        ranges[key] = LabelRange(tuple(wanted), always=key.startswith(AWS_INSTANCE_PREFIX))
        labels.pop(key, None)
    for key in list(ranges):
        single = _single_value(ranges[key])
        if single is not None:
            labels[key] = single
            del ranges[key]
    return NodeShape(f"a new node of NodePool {pool.name}", labels, pool.taints, ranges=ranges)


def _rekey(requirements: Iterable[SelectorRequirement], key: str) -> list[SelectorRequirement]:
    return [SelectorRequirement(key, r.operator, r.values) for r in requirements]


def _single_value(allowed: LabelRange) -> str | None:
    """The one value a range allows, when it is a plain `In` of one value."""
    if len(allowed.requirements) == 1:
        only = allowed.requirements[0]
        if only.operator == "In" and len(only.values) == 1:
            return only.values[0]
    return None


def drift_problems(
    pool: NodePool,
    pools: Sequence[NodePool],
    live: Sequence[Node],
    moving: Iterable[Pod],
    name: Callable[[Pod], str],
) -> dict[str, set[str]]:
    """For the pods that leave `pool`'s nodes when they drift: what `pool`'s new nodes lack for
    each (the problem -> the workloads, by `name`), when no NodePool's new nodes take it."""
    own = nodepool_shape(pool, live)
    others = [nodepool_shape(p) for p in pools if p.name != pool.name]
    problems: dict[str, set[str]] = {}
    seen: dict[object, str | None] = {}
    for pod in moving:
        spec = pod.spec
        key = (
            tuple(sorted(spec.node_selector.items())),
            spec.node_affinity,
            spec.tolerations,
            spec.topology_spread,
        )
        if key not in seen:
            problem = placement_problem(spec, [own])
            if problem is not None and placement_problem(spec, others) is None:
                problem = None  # another pool's nodes take it
            seen[key] = problem
        found = seen[key]
        if found is not None:
            problems.setdefault(found, set()).add(name(pod))
    return problems


def moves_on_drift(pod: Pod) -> bool:
    """Will Karpenter's drift move this pod to a new node? DaemonSet and mirror pods stay with
    their node; a bare pod is evicted for good, never recreated; finished pods are done."""
    owner = pod.owner
    if owner is None or not owner.controller or owner.kind == "DaemonSet":
        return False
    return not (pod.is_mirror or pod.is_finished or pod.is_terminating)
