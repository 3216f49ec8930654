"""Can a pod run on a node, and if not, why: the scheduler's hard filters, in words.

Used three times, with the same rules: at plan time against the green nodes *as their node
group will create them* (`green_shapes`: the group's configured labels and taints, its instance
types and its subnets' zones, plus what the kubelet and EKS put on every node), not against
blue's live labels, which may carry a label someone added by hand; before the first cordon
against the real green nodes; and when a drain is stuck, to say which constraint or resource a
Pending replacement lacks on which green node.

The filters are the scheduler's (kubernetes pkg/scheduler/framework/plugins): NodeAffinity
(nodeSelector and required node affinity), TaintToleration (NoSchedule and NoExecute taints),
NodeResourcesFit (requests and the pod count against allocatable), NodeUnschedulable, and the
part of PodTopologySpread a node alone decides (a DoNotSchedule constraint's topology key must
be one of its labels). Skew across zones is upgrader/core/spread.py's rule, and volumes' node
affinity (an EBS volume's zone) upgrader/core/volume_zones.py's.
Preferences (preferred affinity, PreferNoSchedule) never keep a pod off a node and are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from upgrader.core.aws import Nodegroup
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    Node,
    NodeAffinity,
    PodSpec,
    Resources,
    SelectorRequirement,
    Taint,
    TaintEffect,
)

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
# The first is the one every node gets; green takes its own zone in each of them it carries
# (the EBS CSI node plugin labels a node with its zone under its own key too).
ZONE_LABELS = (
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.ebs.csi.aws.com/zone",
)
CAPACITY_TYPE_LABEL = "eks.amazonaws.com/capacityType"
# Labels that name one node, or the AMI it booted from: a green node never shares them.
NODE_SPECIFIC_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "eks.amazonaws.com/nodegroup-image",
        "alpha.eksctl.io/instance-id",
        "topology.k8s.aws/network-node-layer-1",
        "topology.k8s.aws/network-node-layer-2",
        "topology.k8s.aws/network-node-layer-3",
    }
)
# Label domains the kubelet, the AWS cloud provider or EKS set on every node they make (arch,
# os, region, zone id, ...): a green node made by the same group carries them too. Hand-set
# domains under kubernetes.io (node-role, node-restriction) are not among them: the kubelet may
# not set those, so they come from the group's configuration or from a person.
_SYSTEM_DOMAINS = frozenset(
    {
        "kubernetes.io",
        "beta.kubernetes.io",
        "node.kubernetes.io",
        "topology.kubernetes.io",
        "failure-domain.beta.kubernetes.io",
        "eks.amazonaws.com",
        "k8s.io",
        "topology.k8s.aws",
        "vpc.amazonaws.com",
        "k8s.amazonaws.com",
        "topology.ebs.csi.aws.com",
    }
)
_EKS_EFFECTS = {
    "NO_SCHEDULE": TaintEffect.NO_SCHEDULE,
    "NO_EXECUTE": TaintEffect.NO_EXECUTE,
    "PREFER_NO_SCHEDULE": TaintEffect.PREFER_NO_SCHEDULE,
}
# Taints that come and go with a node's life, not with its group's configuration.
TRANSIENT_TAINT_PREFIXES = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
    "eksup",
)


@dataclass(frozen=True)
class LabelRange:
    """The values a label of a node not made yet may take. Its maker picks the value to suit
    the pod: Karpenter narrows its NodePool's requirements by the pod's own (nodeSelector,
    required node affinity) and labels the node it launches with the result, so a pod is
    satisfied when some value in the range meets it. The value must meet every one of
    `requirements`; `always`: the label is on every node made (a well-known label Karpenter
    derives from the instance), so "absent" is no option. Without `always`, absence is an
    option only when every requirement is DoesNotExist (Karpenter gives an Exists or NotIn
    label a value of its own)."""

    requirements: tuple[SelectorRequirement, ...] = ()
    always: bool = False

    def allows(self, value: str | None) -> bool:
        """May the label have `value` (None: be absent)?"""
        if value is None:
            return not self.always and all(r.operator == "DoesNotExist" for r in self.requirements)
        return all(r.matches({r.key: value}) for r in self.requirements)

    def satisfiable(self, key: str, wanted: Sequence[SelectorRequirement]) -> bool:
        """Is there a value of the label (or its absence) that the range allows and that meets
        every one of `wanted` (a pod's requirements on `key`)?"""
        mentioned: set[str] = set()
        for r in (*self.requirements, *wanted):
            mentioned.update(r.values)
            if r.operator in ("Gt", "Lt", "Gte", "Lte") and r.values:
                try:
                    bound = int(r.values[0])
                except ValueError:
                    continue
                mentioned.update((str(bound + 1), str(bound - 1)))
        fresh = "eksup-any-other-value"  # stands for every value nobody names
        candidates: list[str | None] = [None, fresh, *sorted(mentioned)]
        return any(
            self.allows(value)
            and all(r.matches({} if value is None else {key: value}) for r in wanted)
            for value in candidates
        )

    def describe(self, key: str) -> str:
        if not self.requirements:
            return f"any {key}"
        return f"{key} only where {describe_affinity(NodeAffinity((self.requirements,)))}"


@dataclass(frozen=True)
class NodeShape:
    """A node as it is, or as it will be made: what the scheduler's filters look at.

    `ranges`: labels whose value is chosen when the node is made (a Karpenter NodePool's
    requirements); a key is in `labels` or in `ranges`, never both."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    allocatable: Resources = field(default_factory=Resources)
    ranges: Mapping[str, LabelRange] = field(default_factory=dict)

    @staticmethod
    def of(node: Node) -> NodeShape:
        return NodeShape(node.name, node.labels, node.taints, node.allocatable)


def _domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def is_system_label(key: str) -> bool:
    return _domain(key) in _SYSTEM_DOMAINS and key not in NODE_SPECIFIC_LABELS


def describe_affinity(affinity: NodeAffinity) -> str:
    def requirement(r: SelectorRequirement) -> str:
        if r.operator in ("In", "NotIn"):
            return f"{r.key} {r.operator} ({','.join(r.values)})"
        if r.operator in ("Gt", "Lt", "Gte", "Lte"):
            return f"{r.key} {r.operator} {r.values[0] if r.values else ''}"
        return f"{r.key} {r.operator}"

    terms = [" and ".join(requirement(r) for r in term) for term in affinity.terms]
    return " or ".join(f"({t})" if len(terms) > 1 else t for t in terms)


def constraint_misses(spec: PodSpec, shape: NodeShape) -> list[str]:
    """Each hard scheduling constraint of `spec` that `shape` fails, and what it lacks."""
    misses = []
    ranges = shape.ranges
    for key, want in sorted(spec.node_selector.items()):
        have = shape.labels.get(key)
        if have != want:
            if key in ranges:
                if not ranges[key].allows(want):
                    misses.append(
                        f"nodeSelector {key}={want} (the node may carry "
                        f"{ranges[key].describe(key)})"
                    )
                continue
            lacks = f"has {key}={have}" if have is not None else f"has no {key} label"
            misses.append(f"nodeSelector {key}={want} (the node {lacks})")
    affinity_met = (
        _affinity_in_ranges(spec, shape) if ranges else spec.node_affinity.matches(shape.labels)
    )
    if not affinity_met:
        misses.append(f"required node affinity {describe_affinity(spec.node_affinity)}")
    for spread in spec.topology_spread:
        key = spread.topology_key
        labelled = key in shape.labels or (key in ranges and not ranges[key].allows(None))
        if spread.when_unsatisfiable == "DoNotSchedule" and not labelled:
            misses.append(
                f"topologySpreadConstraint on {spread.topology_key} (DoNotSchedule; the node "
                f"has no {spread.topology_key} label)"
            )
    for taint in shape.taints:
        if taint.effect is TaintEffect.PREFER_NO_SCHEDULE:
            continue
        if not any(t.tolerates(taint) for t in spec.tolerations):
            misses.append(f"taint {taint} (not tolerated)")
    return misses


def node_selected(spec: PodSpec, shape: NodeShape) -> bool:
    """Do the pod's nodeSelector and required node affinity accept `shape` (the NodeAffinity
    filter alone; a ranged label counts when some value of its range meets them)?"""
    for key, want in spec.node_selector.items():
        if shape.labels.get(key) != want:
            allowed = shape.ranges.get(key)
            if key in shape.labels or allowed is None or not allowed.allows(want):
                return False
    if shape.ranges:
        return _affinity_in_ranges(spec, shape)
    return spec.node_affinity.matches(shape.labels)


def _affinity_in_ranges(spec: PodSpec, shape: NodeShape) -> bool:
    """Required node affinity against a node with label ranges: some term must be met by one
    choice of the ranged labels, a choice that also keeps the pod's nodeSelector on them."""
    if not spec.node_affinity.terms:
        return True
    for term in spec.node_affinity.terms:
        by_key: dict[str, list[SelectorRequirement]] = {}
        for requirement in term:
            by_key.setdefault(requirement.key, []).append(requirement)
        met = True
        for key, wanted in by_key.items():
            allowed = shape.ranges.get(key)
            if key in shape.labels or allowed is None:
                met = all(r.matches(shape.labels) for r in wanted)
            else:
                selected = spec.node_selector.get(key)
                joint = list(wanted)
                if selected is not None and allowed.allows(selected):
                    joint.append(SelectorRequirement(key, "In", (selected,)))
                met = allowed.satisfiable(key, joint)
            if not met:
                break
        if met:
            return True
    return False


def resource_misses(requests: Resources, free: Resources) -> list[str]:
    """The resources a node lacks for `requests`, given what is free on it."""
    misses = []
    if requests.cpu_millis > free.cpu_millis:
        misses.append(f"cpu (needs {requests.cpu_millis}m, {max(free.cpu_millis, 0)}m free)")
    if requests.memory_bytes > free.memory_bytes:
        need, left = requests.memory_bytes >> 20, max(free.memory_bytes, 0) >> 20
        misses.append(f"memory (needs {need}Mi, {left}Mi free)")
    if free.pods < 1:
        misses.append("pods (max pods per node reached)")
    return misses


# -- green as its node group will make it ------------------------------------------------------


def _common(labels: Iterable[Mapping[str, str]]) -> dict[str, str]:
    sets = [dict(each) for each in labels]
    if not sets:
        return {}
    first = sets[0]
    return {k: v for k, v in first.items() if all(s.get(k) == v for s in sets[1:])}


def green_shapes(
    group: Nodegroup | None,
    blue: Sequence[Node],
    zones: Sequence[str] = (),
    green_name: str = "<green>",
) -> list[NodeShape]:
    """The kinds of node the green copy of `blue`'s group will make, one per instance type and
    zone (their allocatable: a blue node's of that type).

    For a managed group: the group's configured labels and taints, the labels the kubelet, the
    cloud provider and EKS set (taken from blue, with instance type, zone, capacity type and
    group name from the group's configuration), and nothing else: a label or taint added to a
    blue node by hand does not come back on green. A group with a launch template may also set
    labels and taints in its user data (`--node-labels`, `--register-with-taints`), which the
    EKS API does not show: for such a group, what every blue node carries is taken as coming
    from there. A self-managed group (`group` None) is all launch template: the same rule.
    """
    if not blue:
        return []
    from_user_data = group is None or group.launch_template is not None
    shared = _common(n.labels for n in blue) if from_user_data else {}
    taints: tuple[Taint, ...] = ()
    if group is not None:
        taints = tuple(
            Taint(t.key, _EKS_EFFECTS.get(t.effect, TaintEffect.NO_SCHEDULE), t.value)
            for t in group.taints
        )
    if from_user_data:
        common = set.intersection(*(set(n.taints) for n in blue))
        taints += tuple(
            t
            for t in sorted(common, key=str)
            if not t.key.startswith(TRANSIENT_TAINT_PREFIXES) and t not in taints
        )
    instance_types = tuple(group.instance_types) if group is not None else ()
    shapes: dict[tuple[tuple[str, str], ...], NodeShape] = {}
    for node in blue:
        labels = {k: v for k, v in node.labels.items() if is_system_label(k)}
        labels.update({k: v for k, v in shared.items() if k not in NODE_SPECIFIC_LABELS})
        if group is not None:
            labels.update(group.labels)
            labels[CAPACITY_TYPE_LABEL] = group.capacity_type or "ON_DEMAND"
        if NODEGROUP_LABEL in node.labels or group is not None:
            labels[NODEGROUP_LABEL] = green_name
        if "kubernetes.io/hostname" in node.labels:
            labels["kubernetes.io/hostname"] = "<its own name>"
        own_type = next((node.labels[k] for k in INSTANCE_TYPE_LABELS if k in node.labels), "")
        own_zone = next((node.labels[k] for k in ZONE_LABELS if k in node.labels), "")
        for itype in instance_types or (own_type,):
            for zone in zones or (own_zone,):
                made = dict(labels)
                for key in INSTANCE_TYPE_LABELS:
                    if itype and (key in made or key == INSTANCE_TYPE_LABELS[0]):
                        made[key] = itype
                for key in ZONE_LABELS:
                    if zone and (key in made or key == ZONE_LABELS[0]):
                        made[key] = zone
                signature = tuple(sorted(made.items()))
                if signature not in shapes:
                    shapes[signature] = NodeShape(
                        f"green {itype or 'node'} in {zone or 'its zone'}",
                        made,
                        taints,
                        node.allocatable,
                    )
    return list(shapes.values())


def placement_problem(spec: PodSpec, shapes: Sequence[NodeShape]) -> str | None:
    """None when some shape takes the pod; else what the closest shape lacks."""
    best: list[str] | None = None
    for shape in shapes:
        misses = constraint_misses(spec, shape)
        if not misses:
            return None
        if best is None or len(misses) < len(best):
            best = misses
    if best is None:
        return "there are no green nodes"
    return "; ".join(best)


def why_pending(
    spec: PodSpec,
    nodes: Sequence[Node],
    used: Mapping[str, Resources],
) -> str:
    """Why a Pending pod fits none of `nodes` (schedulable, Ready ones): per reason, the nodes.

    `used` is each node's requests already placed (with one pod slot per pod)."""
    reasons: dict[str, list[str]] = {}
    for node in nodes:
        if node.unschedulable or not node.ready:
            continue
        misses = constraint_misses(spec, NodeShape.of(node))
        if not misses:
            taken = used.get(node.name, Resources())
            free = node.allocatable - taken
            if node.allocatable.pods == 0:  # pod count unknown: do not invent a limit
                free = Resources(free.cpu_millis, free.memory_bytes, 1)
            misses = [f"not enough {m}" for m in resource_misses(spec.requests, free)]
        if not misses:
            return ""  # it fits somewhere: the scheduler has not got to it yet
        for miss in misses:
            reasons.setdefault(miss, []).append(node.name)
    if not reasons:
        return "no Ready, schedulable node outside the drained ones"
    parts = []
    for reason, names in sorted(reasons.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{reason} on {shown}")
    return "; ".join(parts)
