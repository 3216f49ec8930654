"""Capacity: will the pods fit while node groups are replaced, and can AWS launch the surge?

`capacity` answers "can the green copy of each group hold every pod the drain moves off the
blue one" with a bin-packing estimate. Green is a clone of blue, so each blue node stands for a
green one of the same type: its allocatable minus what DaemonSet and static pods take on it
(they come back on every green node). Pods are packed by shape (requests plus scheduling
constraints), largest first, each shape filling the emptiest node: O((shapes + nodes) log
nodes) per group instead of pods x nodes, which matters on a 150,000-pod cluster. A first-fit
estimate is not the scheduler, so a tight fit passes here and may still leave a pod Pending;
a failure here is real.

`surge-capacity` adds what the strategy launches beside the old nodes: instances, their vCPUs
against the account's quota, and their IP addresses in the node group's subnets.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from upgrader.core.aws import Nodegroup
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    Node,
    NodeAffinity,
    Pod,
    PodSpec,
    Resources,
    Toleration,
    TopologySpread,
)
from upgrader.core.placement import NodeShape, green_shapes, placement_problem
from upgrader.plan.checks._common import plural
from upgrader.plan.checks.context import CheckContext, NodeStrategy
from upgrader.plan.checks.findings import Finding, Severity, fail, passed
from upgrader.plan.checks.ids import CAPACITY, SURGE_CAPACITY
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind, Read, is_daemon_pod


class _Shape(NamedTuple):
    # A NamedTuple, not a dataclass: it is hashed once per pod, and tuples hash in C.
    cpu: int
    memory: int
    tolerations: tuple[Toleration, ...]
    node_selector: tuple[tuple[str, str], ...]
    affinity: NodeAffinity
    spread: tuple[TopologySpread, ...] = ()


@dataclass(frozen=True)
class PackResult:
    pods: int
    unplaced: int
    unschedulable: tuple[str, ...]  # workloads whose constraints no green node satisfies
    extra_nodes: int  # a lower bound on the nodes that would hold the unplaced pods
    # (workload, what the closest green node lacks), for each of `unschedulable`
    problems: tuple[tuple[str, str], ...] = ()


def _shape(pod: Pod) -> _Shape:
    spec = pod.spec
    return _Shape(
        spec.requests.cpu_millis,
        spec.requests.memory_bytes,
        spec.tolerations,
        tuple(sorted(spec.node_selector.items())) if spec.node_selector else (),
        spec.node_affinity,
        spec.topology_spread,
    )


def _spec(shape: _Shape) -> PodSpec:
    return PodSpec(
        tolerations=shape.tolerations,
        node_selector=dict(shape.node_selector),
        node_affinity=shape.affinity,
        topology_spread=shape.spread,
    )


def pack_green(
    snapshot: ClusterSnapshot, blue: Sequence[Node], shapes: Sequence[NodeShape] | None = None
) -> PackResult:
    """Estimate whether a same-sized clone of `blue` holds the pods a drain moves off it.

    `shapes` are the nodes green will be made of (placement.green_shapes); by default, blue's
    own shared labels and taints, as a self-managed group's launch template makes them."""
    if shapes is None:
        shapes = green_shapes(None, blue)

    bins: list[list[int]] = []  # free cpu, memory, pod slots (-1: not limited) per green node
    pod_shapes: Counter[_Shape] = Counter()
    example: dict[_Shape, str] = {}
    for node in blue:
        kept = Resources()
        kept_pods = 0
        for pod in snapshot.pods_by_node.get(node.name, ()):
            if is_daemon_pod(pod) or pod.is_mirror:
                # DaemonSet and static pods come back on every green node.
                kept = kept + pod.spec.requests
                kept_pods += 1
            elif (
                pod.owner is not None
                and pod.owner.controller
                and not (pod.is_finished or pod.is_terminating)
            ):
                # Bare pods are not recreated anywhere, so they need no room on green.
                shape = _shape(pod)
                pod_shapes[shape] += 1
                if shape not in example:
                    example[shape] = snapshot.workload_name(pod)
        free = node.allocatable - kept
        slots = node.allocatable.pods - kept_pods if node.allocatable.pods else -1
        bins.append([max(free.cpu_millis, 0), max(free.memory_bytes, 0), slots])

    total = sum(pod_shapes.values())
    unschedulable: dict[str, str] = {}
    placeable: list[tuple[_Shape, int]] = []
    for shape, count in pod_shapes.items():
        problem = placement_problem(_spec(shape), shapes)
        if problem is None:
            placeable.append((shape, count))
        else:
            unschedulable.setdefault(example[shape], problem)

    cpu_ref = max((b[0] for b in bins), default=1) or 1
    mem_ref = max((b[1] for b in bins), default=1) or 1

    def room(free: list[int]) -> float:
        return min(free[0] / cpu_ref, free[1] / mem_ref)

    heap = [(-room(b), i) for i, b in enumerate(bins)]
    heapq.heapify(heap)
    placeable.sort(key=lambda item: item[0].cpu / cpu_ref + item[0].memory / mem_ref, reverse=True)
    left_cpu = left_mem = unplaced = 0
    for shape, count in placeable:
        need = count
        refused: list[tuple[float, int]] = []
        while need and heap:
            entry = heapq.heappop(heap)
            room_left = bins[entry[1]]
            fit = _fit_count(room_left, shape, need)
            if fit == 0:
                refused.append(entry)
                # The emptiest nodes refused it: the rest, fuller, will refuse it too, unless
                # another resource is the tight one. A few more tries cover that.
                if len(refused) >= 8:
                    break
                continue
            room_left[0] -= fit * shape.cpu
            room_left[1] -= fit * shape.memory
            if room_left[2] >= 0:
                room_left[2] -= fit
            need -= fit
            heapq.heappush(heap, (-room(room_left), entry[1]))
        for entry in refused:
            heapq.heappush(heap, entry)
        unplaced += need
        left_cpu += need * shape.cpu
        left_mem += need * shape.memory

    extra = 0
    if unplaced:
        typical_cpu = statistics.median(b.allocatable.cpu_millis for b in blue) or 1
        typical_mem = statistics.median(b.allocatable.memory_bytes for b in blue) or 1
        typical_pods = statistics.median(b.allocatable.pods for b in blue) or unplaced
        extra = max(
            1,
            math.ceil(left_cpu / typical_cpu),
            math.ceil(left_mem / typical_mem),
            math.ceil(unplaced / typical_pods),
        )
    return PackResult(
        total, unplaced, tuple(sorted(unschedulable)), extra, tuple(sorted(unschedulable.items()))
    )


def _fit_count(free: list[int], shape: _Shape, need: int) -> int:
    fit = need if free[2] < 0 else min(need, free[2])
    if shape.cpu > 0:
        fit = min(fit, free[0] // shape.cpu)
    if shape.memory > 0:
        fit = min(fit, free[1] // shape.memory)
    return max(fit, 0)


def replaced_groups(
    snapshot: ClusterSnapshot,
) -> list[tuple[NodeOwner, Nodegroup | None, tuple[Node, ...]]]:
    """The node groups eksup replaces: managed and self-managed (not Fargate or Karpenter),
    each with its managed node group (None for a self-managed one) and its (blue) nodes."""
    kinds = (NodeOwnerKind.MANAGED, NodeOwnerKind.SELF_MANAGED)
    return [
        (owner, _managed(snapshot, owner), nodes)
        for owner, nodes in sorted(snapshot.nodes_by_owner.items(), key=lambda item: str(item[0]))
        if owner.kind in kinds
    ]


def _managed(snapshot: ClusterSnapshot, owner: NodeOwner) -> Nodegroup | None:
    if owner.kind is not NodeOwnerKind.MANAGED:
        return None
    return snapshot.nodegroup_by_name.get(owner.name)


def _object(owner: NodeOwner) -> str:
    return f"nodegroup/{owner.name}" if owner.kind is NodeOwnerKind.MANAGED else f"asg/{owner.name}"


@check(
    CAPACITY,
    severity=Severity.ERROR,
    title="A green copy of each node group can hold every pod of the blue one",
    passes="each node group's green copy can hold the pods drained off the blue one",
    reads=(Read.NODES, Read.PODS),
)
def capacity(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    if context.strategy is not NodeStrategy.BLUE_GREEN:
        return [
            passed(
                CAPACITY,
                Severity.ERROR,
                "in-place updates replace nodes with identical ones: capacity does not change",
            )
        ]
    findings = []
    for owner, group, blue in replaced_groups(snapshot):
        shapes = green_shapes(group, blue, subnet_zones(snapshot, group))
        sized = not all(
            n.allocatable.cpu_millis == 0 and n.allocatable.memory_bytes == 0 for n in blue
        )
        result = pack_green(snapshot, blue, shapes)
        if result.unplaced and sized:
            findings.append(
                fail(
                    CAPACITY,
                    Severity.ERROR,
                    f"a green copy of {owner} ({plural(len(blue), 'node')}) cannot hold its "
                    f"pods: {result.unplaced} of {result.pods} do not fit by requests (about "
                    f"{plural(result.extra_nodes, 'more node')} needed)",
                    (_object(owner),),
                    remedy=f"give the green group at least {len(blue) + result.extra_nodes} "
                    "nodes (raise desired and max size) or a larger instance type, or lower "
                    "the workloads' requests",
                )
            )
        findings.extend(_placement_findings(owner, group, blue, result))
    return findings


def subnet_zones(snapshot: ClusterSnapshot, group: Nodegroup | None) -> tuple[str, ...]:
    """The zones green's nodes land in: its subnets' (blue's, cloned). Empty when unknown."""
    if group is None:
        return ()
    known = [snapshot.subnet_by_id[s] for s in group.subnets if s in snapshot.subnet_by_id]
    return tuple(sorted({s.availability_zone for s in known}))


def _placement_findings(
    owner: NodeOwner, group: Nodegroup | None, blue: Sequence[Node], result: PackResult
) -> list[Finding]:
    """One blocking finding per constraint green will not meet, naming the workloads."""
    by_problem: dict[str, list[str]] = {}
    for workload, problem in result.problems:
        by_problem.setdefault(problem, []).append(workload)
    findings = []
    for problem, workloads in sorted(by_problem.items()):
        findings.append(
            fail(
                CAPACITY,
                Severity.ERROR,
                f"pods on {owner} cannot run on its green copy as the node group will create "
                f"it: {problem}",
                tuple(sorted(workloads)),
                remedy=_placement_remedy(problem, owner, group, blue),
            )
        )
    return findings


def _placement_remedy(
    problem: str, owner: NodeOwner, group: Nodegroup | None, blue: Sequence[Node]
) -> str:
    accept = (
        "; or, if those pods may stay Pending until someone acts, accept it by suppressing "
        "check capacity for them in .eksup.yaml"
    )
    hand_labels = sorted(
        {
            f"{k}={v}"
            for n in blue
            for k, v in n.labels.items()
            if f"nodeSelector {k}={v} " in problem
            and (group is None or k not in group.labels)
            and k != NODEGROUP_LABEL
        }
    )
    if hand_labels and group is not None:
        return (
            f"{', '.join(hand_labels)} is on the blue nodes but not in node group "
            f"{group.name}'s labels (added by hand?), so green nodes will not have it: add it "
            f"to the group (aws eks update-nodegroup-config --cluster-name {group.cluster} "
            f"--nodegroup-name {group.name} --labels 'addOrUpdateLabels={{{hand_labels[0]}}}', "
            "or in eksctl/Terraform), or change the workload's selector" + accept
        )
    if NODEGROUP_LABEL in problem or "kubernetes.io/hostname" in problem:
        return (
            "select a label the green group keeps instead of the node group's name "
            "(eks.amazonaws.com/nodegroup) or a node's hostname" + accept
        )
    return (
        f"give the green copy of {owner} what the pods need (labels or taints in the node "
        "group's configuration, an instance type or zone it launches in), or change the "
        "workloads' constraints" + accept
    )


@dataclass(frozen=True)
class _Surge:
    owner: str
    instances: int
    vcpus_each: int | None
    subnets: tuple[str, ...]
    ips_each: int


def _vcpus(
    snapshot: ClusterSnapshot, instance_type: str | None, nodes: Sequence[Node]
) -> int | None:
    info = snapshot.instance_types.get(instance_type or "")
    if info is not None:
        return info.vcpus
    cpu = max((n.allocatable.cpu_millis for n in nodes), default=0)
    # Allocatable CPU is the instance's vCPUs minus a small kube-reserved share.
    return math.ceil(cpu / 1000) if cpu else None


def _ips_per_node(snapshot: ClusterSnapshot, nodes: Sequence[Node]) -> int:
    """One address for the node and one per pod it runs (VPC CNI, no prefix delegation)."""
    if not nodes:
        return 1
    pods = sum(len(snapshot.pods_by_node.get(n.name, ())) for n in nodes)
    return 1 + math.ceil(pods / len(nodes))


def _surges(snapshot: ClusterSnapshot, context: CheckContext) -> list[_Surge]:
    nodes_of = {(o.kind, o.name): nodes for o, nodes in snapshot.nodes_by_owner.items()}
    blue_green = context.strategy is NodeStrategy.BLUE_GREEN
    surges = []
    for group in snapshot.nodegroups:
        nodes = nodes_of.get((NodeOwnerKind.MANAGED, group.name), ())
        desired = group.scaling.desired_size
        if blue_green:
            instances = desired
        else:
            # EKS raises the group by the larger of twice its AZ count and maxUnavailable.
            zones = {
                snapshot.subnet_by_id[s].availability_zone
                for s in group.subnets
                if s in snapshot.subnet_by_id
            }
            update = group.update_config
            unavailable = update.max_unavailable or math.ceil(
                (update.max_unavailable_percentage or 0) * desired / 100
            )
            instances = min(max(desired, 1), max(2 * max(len(zones), 1), unavailable))
        surges.append(
            _Surge(
                f"nodegroup/{group.name}",
                instances,
                _vcpus(snapshot, group.instance_types[0] if group.instance_types else None, nodes),
                group.subnets,
                _ips_per_node(snapshot, nodes),
            )
        )
    for smg in snapshot.self_managed_groups:
        nodes = nodes_of.get((NodeOwnerKind.SELF_MANAGED, smg.name), ())
        # In place, eksup replaces a self-managed group's instances one at a time.
        instances = smg.asg.desired_capacity if blue_green else 1
        surges.append(
            _Surge(
                f"asg/{smg.name}",
                instances,
                _vcpus(snapshot, smg.instance_type, nodes),
                smg.asg.subnets,
                _ips_per_node(snapshot, nodes),
            )
        )
    return [s for s in surges if s.instances > 0]


@check(
    SURGE_CAPACITY,
    severity=Severity.ERROR,
    title="AWS can launch the extra instances the strategy needs (vCPU quota, subnet IPs)",
    passes="the surge fits the vCPU quota (when known) and the node subnets' free IPs",
    reads=(Read.NODEGROUPS,),
)
def surge_capacity(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    surges = _surges(snapshot, context)
    findings = []
    # Groups are replaced one after another, so the peak is the largest single surge.
    sized = [s for s in surges if s.vcpus_each is not None]
    if snapshot.vcpu_quota is not None and sized:
        peak = max(sized, key=lambda s: s.instances * (s.vcpus_each or 0))
        peak_vcpus = peak.instances * (peak.vcpus_each or 0)
        if snapshot.vcpus_in_use is not None:
            in_use, how = snapshot.vcpus_in_use, "in use in the account"
        else:
            in_use = sum(_vcpus(snapshot, None, (n,)) or 0 for n in snapshot.nodes)
            how = "used by this cluster's nodes (other clusters not counted)"
        headroom = snapshot.vcpu_quota - in_use
        if peak_vcpus > headroom:
            findings.append(
                fail(
                    SURGE_CAPACITY,
                    Severity.ERROR,
                    f"replacing {peak.owner} launches {plural(peak.instances, 'instance')} "
                    f"({peak_vcpus} vCPUs), but the On-Demand vCPU quota ({snapshot.vcpu_quota}) "
                    f"leaves {max(headroom, 0)} with {in_use} {how}",
                    (peak.owner,),
                    remedy="request a higher 'Running On-Demand Standard instances' quota "
                    "(L-1216C47A) in Service Quotas, or use the in-place strategy",
                )
            )
    for surge in surges:
        known = [snapshot.subnet_by_id[s] for s in surge.subnets if s in snapshot.subnet_by_id]
        if not known:
            continue
        free = sum(s.available_ips for s in known)
        need = surge.instances * surge.ips_each
        if need > free:
            findings.append(
                fail(
                    SURGE_CAPACITY,
                    Severity.ERROR,
                    f"replacing {surge.owner} needs about {need} IPs ({surge.instances} new "
                    f"nodes x {surge.ips_each}) but its subnets have {free} free",
                    (surge.owner,),
                    remedy="free or add subnet space (secondary CIDR, prefix delegation), or "
                    "use the in-place strategy, which surges only a few nodes",
                )
            )
    denied = snapshot.denied(Read.SUBNETS, Read.VCPU_QUOTA, Read.SELF_MANAGED_GROUPS)
    if denied:
        findings.append(denied_finding(SURGE_CAPACITY, Severity.ERROR, denied))
    return findings
