"""Which node groups move, and at which versions: the fewest replacements the rules allow.

AWS refuses the next control-plane update while a managed node group or a Fargate pod is on
another minor, so those move at every hop; self-managed groups and Karpenter pools may trail
within the upstream kubelet skew. Green groups get a name that says their version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from upgrader.core.errors import UserError
from upgrader.core.kube import Node
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind
from upgrader.versions import KubeVersion, NodeKind, VersionCatalog

_EKS_NODEGROUP_NAME_LIMIT = 63
# "-1-29", "_1_29", "-v1-29" at the end of a node group name: a version suffix to replace.
_VERSION_SUFFIX = re.compile(r"[-_]v?1[-_]\d{1,2}$")


@dataclass(frozen=True)
class NodeUnit:
    """Nodes replaced as a whole: a managed node group, a self-managed Auto Scaling group, a
    Karpenter node pool, or every Fargate pod of the cluster."""

    owner: NodeOwnerKind
    name: str
    version: KubeVersion | None  # None: unknown (a self-managed group with no nodes to read)

    @property
    def node_kind(self) -> NodeKind:
        if self.owner is NodeOwnerKind.MANAGED:
            return NodeKind.MANAGED_NODE_GROUP
        if self.owner is NodeOwnerKind.FARGATE:
            return NodeKind.FARGATE
        return NodeKind.SELF_MANAGED  # Karpenter nodes trail like self-managed ones

    @property
    def label(self) -> str:
        return {
            NodeOwnerKind.MANAGED: f"node group {self.name}",
            NodeOwnerKind.SELF_MANAGED: f"self-managed group {self.name}",
            NodeOwnerKind.KARPENTER: f"Karpenter node pool {self.name}",
            NodeOwnerKind.FARGATE: "Fargate pods",
        }.get(self.owner, self.name)


def replacement_versions(
    unit: NodeUnit, current: KubeVersion, target: KubeVersion, catalog: VersionCatalog
) -> list[KubeVersion]:
    """The control-plane versions at which `unit` must be replaced, fewest first-to-last.

    Walking the stages current, current+1, ..., target (the control plane's version after each
    hop): a unit that must match the control plane moves at every stage it is behind, before
    the next hop; one that may trail moves only when staying would break the kubelet skew at
    the next hop, to the version the control plane is on then (it can go no further), and
    once more at the end. Moving as late as possible is what makes the count minimal.
    """
    at = unit.version
    if at is None:
        return []
    moves = []
    for step in range(target - current + 1):
        stage = current + step
        if at >= stage:
            continue
        if stage == target or catalog.must_match_control_plane(unit.node_kind):
            needed = True
        else:
            needed = not catalog.kubelet_skew_ok(at, stage + 1)
        if needed:
            moves.append(stage)
            at = stage
    return moves


def node_units(snapshot: ClusterSnapshot) -> list[NodeUnit]:
    """Everything that carries nodes eksup must replace, in the order the plan replaces them."""
    by_owner = snapshot.nodes_by_owner
    units = [
        NodeUnit(NodeOwnerKind.MANAGED, g.name, KubeVersion.try_parse(g.version))
        for g in sorted(snapshot.nodegroups, key=lambda g: g.name)
    ]
    for group in sorted(snapshot.self_managed_groups, key=lambda g: g.name):
        nodes = by_owner.get(NodeOwner(NodeOwnerKind.SELF_MANAGED, group.name), ())
        version = _oldest_kubelet(nodes) or _version_of_image(snapshot, group.image_id)
        units.append(NodeUnit(NodeOwnerKind.SELF_MANAGED, group.name, version))
    pools = sorted((o for o in by_owner if o.kind is NodeOwnerKind.KARPENTER), key=lambda o: o.name)
    units += [
        NodeUnit(NodeOwnerKind.KARPENTER, o.name, _oldest_kubelet(by_owner[o])) for o in pools
    ]
    fargate = by_owner.get(NodeOwner(NodeOwnerKind.FARGATE, ""), ())
    if fargate:
        units.append(NodeUnit(NodeOwnerKind.FARGATE, "fargate", _oldest_kubelet(fargate)))
    return units


def _oldest_kubelet(nodes: Iterable[Node]) -> KubeVersion | None:
    versions = [v for v in (KubeVersion.try_parse(n.kubelet_version) for n in nodes) if v]
    return min(versions, default=None)


def _version_of_image(snapshot: ClusterSnapshot, image_id: str | None) -> KubeVersion | None:
    """The Kubernetes version of an EKS-optimized AMI, when discovery read its SSM parameter
    (the parameter path names the version): how an empty self-managed group is placed."""
    if not image_id:
        return None
    for parameter, image in snapshot.ami_ids.items():
        match = re.search(r"/(?:aws-k8s-|EKS_Optimized-|optimized-ami/)(1\.\d+)", parameter)
        if image == image_id and match:
            return KubeVersion.parse(match.group(1))
    return None


def replacement_reason(
    unit: NodeUnit, moves: Sequence[KubeVersion], target: KubeVersion, catalog: VersionCatalog
) -> str:
    count = f"{len(moves)} replacement{'s' if len(moves) != 1 else ''}"
    where = ", ".join(str(v) for v in moves)
    head = f"{unit.label} (at {unit.version}): {count}, at {where}"
    if catalog.must_match_control_plane(unit.node_kind):
        what = "Fargate pods" if unit.owner is NodeOwnerKind.FARGATE else "managed node groups"
        return (
            f"{head}: AWS requires {what} to run the control plane's minor before its next "
            "upgrade, so they move at every hop"
        )
    early = [v for v in moves if v != target]
    why = "; ".join(
        f"at {v} its kubelet would fall outside the skew of {v + 1} "
        f"({catalog.max_kubelet_skew(v + 1)} minors)"
        for v in early
    )
    trail = (
        "it may trail the control plane within the upstream kubelet skew, so it moves once, "
        "at the end"
    )
    return f"{head}: {why}; then once at the end" if why else f"{head}: {trail}"


# -- names -------------------------------------------------------------------------------------


def green_name(blue: str, version: KubeVersion, taken: Iterable[str] = ()) -> str:
    """ "general" -> "general-1-30"; a name that already ends in a version gets it replaced
    ("general-1-29" -> "general-1-30"). Kept within EKS's 63 characters and clear of `taken`."""
    base = _VERSION_SUFFIX.sub("", blue) or blue
    suffix = f"-{version.major}-{version.minor}"
    used = set(taken)
    for attempt in range(1, 100):
        extra = "" if attempt == 1 else f"-{attempt}"
        name = base[: _EKS_NODEGROUP_NAME_LIMIT - len(suffix) - len(extra)] + suffix + extra
        if name not in used:
            return name
    raise UserError(f"no free node group name for {blue} at {version}")


@dataclass
class Lineage:
    """Where each managed node group stands as the plan advances: its current (blue) name."""

    current: dict[str, str]
    taken: set[str]

    def advance(self, original: str, version: KubeVersion) -> tuple[str, str]:
        blue = self.current[original]
        green = green_name(blue, version, self.taken)
        self.taken.add(green)
        self.current[original] = green
        return blue, green
