"""Volumes that tie a pod to a zone: an EBS volume lives in one Availability Zone, so a pod
bound to it (through a PersistentVolumeClaim) can only run on a node in that zone.

The rule is the scheduler's VolumeBinding filter for bound claims (kubernetes
pkg/scheduler/framework/plugins/volumebinding/binder.go, `checkBoundClaims`): every bound
PersistentVolume's `spec.nodeAffinity.required` must match the node's labels
(`CheckNodeAffinity`), or the node is refused with "node(s) had volume node affinity
conflict". The EBS CSI driver writes that affinity with its own key,
`topology.ebs.csi.aws.com/zone`, or the well-known `topology.kubernetes.io/zone`; in-tree EBS
volumes with the zone labels.

A green node that has just joined may not carry `topology.ebs.csi.aws.com/zone` yet: the EBS
CSI node plugin adds it when it registers on the node. It always takes the node's own zone, so
a node with a known zone is judged as if it had it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from upgrader.core.kube import PersistentVolume, Pod
from upgrader.core.placement import ZONE_LABELS, NodeShape, constraint_misses, describe_affinity

EBS_CSI_ZONE_LABEL = "topology.ebs.csi.aws.com/zone"


def bound_volumes(pod: Pod, by_claim: Mapping[str, PersistentVolume]) -> list[PersistentVolume]:
    """The Bound PersistentVolumes of `pod`'s claims that restrict where it can run."""
    found = []
    for volume in pod.spec.volumes:
        if not volume.persistent_claim:
            continue
        pv = by_claim.get(f"{pod.namespace}/{volume.persistent_claim}")
        if pv is not None and pv.phase == "Bound" and pv.node_affinity.terms:
            found.append(pv)
    return found


def _labels(shape: NodeShape) -> Mapping[str, str]:
    if EBS_CSI_ZONE_LABEL in shape.labels:
        return shape.labels
    zone = next((shape.labels[k] for k in ZONE_LABELS if k in shape.labels), None)
    return shape.labels if zone is None else {**shape.labels, EBS_CSI_ZONE_LABEL: zone}


def volume_problem(
    pod: Pod,
    volumes: Sequence[PersistentVolume],
    shapes: Sequence[NodeShape],
    nodes: str = "green's nodes for this pod",
) -> str | None:
    """None when some shape takes `pod` with all its `volumes` (from `bound_volumes`); else
    which volume pins it where no shape is (`nodes` names the shapes). Only judged among the
    shapes the pod's own constraints accept (a pod green cannot take at all is the placement
    rule's finding)."""
    if not volumes:
        return None
    fitting = [s for s in shapes if not constraint_misses(pod.spec, s)]
    if not fitting:
        return None
    for pv in volumes:
        if not any(pv.node_affinity.matches(_labels(s)) for s in fitting):
            claim = pv.claim or "?"
            zones = sorted(
                {next((s.labels[k] for k in ZONE_LABELS if k in s.labels), "?") for s in fitting}
            )
            return (
                f"PersistentVolume {pv.name} (claim {claim}) can only be used where "
                f"{describe_affinity(pv.node_affinity)}, and {nodes} are in {', '.join(zones)}"
            )
    return None
