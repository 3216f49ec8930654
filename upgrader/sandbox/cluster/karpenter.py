"""A small Karpenter v1 in the fake cluster: NodePools, EC2NodeClasses, NodeClaims and drift.

What eksup relies on when it lets Karpenter replace nodes, played out on the virtual clock:
- an EC2NodeClass's `amiSelectorTerms` resolve to one AMI: an alias ("al2023@v20241011",
  "al2023@latest") to that release at the control plane's minor, an `id` to the image, whose
  minor the fake is told (`images`); name and tag terms are not modelled (they resolve to
  nothing, so nothing drifts);
- a NodeClaim whose image is not the resolved one is Drifted, whenever the node class changes
  or the control plane's version does (an alias then resolves to another image);
- a drifted claim whose pods no NodePool's new nodes would take (their nodeSelector, required
  node affinity, tolerations against the pool's template: upgrader/core/nodepool_shapes.py;
  a bound volume's zone against the zones the pools may launch in: nodepool_zones.py)
  is left alone, as Karpenter's scheduling simulation leaves it (a replacement is still
  launched in the zone the fake picks, not the volume's);
- drifted claims are disrupted at most the NodePool's drift budget at a time (the most
  restrictive budget naming Drifted or no reason; a percentage rounds up; schedules are not
  modelled, every budget counts as active). For each: the node is tainted
  karpenter.sh/disrupted:NoSchedule, a replacement is launched and joins Ready at the new
  version after `join_delay_seconds`, then the old claim is deleted: its pods are evicted
  through the Eviction API (PDBs hold; refused evictions are retried each round; DaemonSet and
  mirror pods stay) and the node is removed once nothing else is left on it;
- no replacement launches past the NodePool's `spec.limits` (cpu, memory, nodes), the pool's
  claims counted at an m5.xlarge's capacity (its `status.resources`): such a drift waits.

The highest number of claims disrupting at once in each pool is recorded (`max_disrupting`),
so tests can check the budget held.

Locking: rounds run as clock callbacks (clock lock, then ours, then the cluster's); calls from
the `Cluster` port take ours alone, and schedule rounds only after releasing it.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from upgrader.core.errors import EvictionBlockedError, MultiplePdbsError, NotFoundError
from upgrader.core.kube import (
    DRIFTED,
    KARPENTER_DISRUPTED_TAINT,
    KARPENTER_NODECLASS_LABEL,
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    Node,
    NodeClaim,
    NodeClass,
    NodePool,
    PoolResources,
    Resources,
    Taint,
)
from upgrader.core.nodepool_shapes import drift_problems, moves_on_drift
from upgrader.core.nodepool_zones import drift_volume_problems, live_zones
from upgrader.drain.rules import DrainOptions, Verdict, decide_all
from upgrader.sandbox.cluster.node_groups import M5_XLARGE_ALLOCATABLE

if TYPE_CHECKING:
    from upgrader.core.kube import PersistentVolume, Pod
    from upgrader.core.ports import Compute
    from upgrader.sandbox.clock import VirtualClock

ROUND_SECONDS = 5.0  # how often the disruption controller looks again
DEFAULT_JOIN_DELAY_SECONDS = 60.0  # a NodeClaim's launch, boot and registration
_EVICT_ALL = DrainOptions(delete_emptydir_data=True, force=True)
_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
# What Karpenter counts against a pool's limits per node: the instance's capacity (m5.xlarge:
# 4 vCPUs, 16 GiB), not its allocatable.
M5_XLARGE_CAPACITY = Resources(cpu_millis=4000, memory_bytes=16 * 2**30, pods=58)


class KarpenterHost(Protocol):
    """What the FakeKarpenter reads and does of the cluster it runs in (the FakeCluster, which
    holds it in turn): named here so that the part does not import the whole (no import cycle)."""

    def server_version(self) -> str: ...

    def list_nodes(self) -> list[Node]: ...

    def get_node(self, name: str) -> Node: ...

    def add_node(self, node: Node) -> Node: ...

    def remove_node(self, name: str) -> None: ...

    def add_taint(self, name: str, taint: Taint) -> Node: ...

    def list_pods(self, *, node_name: str | None = None) -> list[Pod]: ...

    def evict_pod(self, namespace: str, name: str) -> None: ...

    def list_persistent_volumes(self) -> list[PersistentVolume]: ...

    def attach_karpenter(self, karpenter: FakeKarpenter) -> None: ...


def kubelet_version(minor: str) -> str:
    return f"v{minor}.0-eks-karpenter"


def public_image_minors(compute: Compute, parameters: Mapping[str, str]) -> dict[str, str]:
    """AMI id -> Kubernetes minor, for `FakeKarpenter(images=...)`: each minor's SSM parameter
    (`{minor: parameter}`) read through the Compute port, as the step reads it."""
    return {compute.get_parameter(p): minor for minor, p in parameters.items()}


@dataclass
class _Claim:
    name: str
    pool: str
    node_class: str
    image_id: str
    minor: str
    launched_at: float
    node_name: str = ""
    replaces: str = ""  # the drifted claim this one was launched for
    replacement: str = ""  # on a disrupted claim: the claim launched to take its place
    deleting: bool = False

    def view(self, drifted: bool, ready: bool) -> NodeClaim:
        return NodeClaim(
            name=self.name,
            node_pool=self.pool,
            node_class=self.node_class,
            node_name=self.node_name,
            image_id=self.image_id,
            ready=ready,
            drifted=drifted,
            deleting=self.deleting,
        )


class FakeKarpenter:
    """Karpenter's controllers for one `FakeCluster`; `install_karpenter` hooks it in."""

    def __init__(
        self,
        kube: KarpenterHost,
        clock: VirtualClock,
        *,
        images: Mapping[str, str] | None = None,
        join_delay_seconds: float = DEFAULT_JOIN_DELAY_SECONDS,
    ) -> None:
        self._kube = kube
        self._clock = clock
        self._images = dict(images or {})
        self._join_delay = join_delay_seconds
        self._lock = threading.RLock()
        self._classes: dict[str, NodeClass] = {}
        self._pools: dict[str, NodePool] = {}
        self._claims: dict[str, _Claim] = {}
        self._serial = itertools.count(1)
        self._scheduled = False
        self.max_disrupting: dict[str, int] = {}
        self.replaced: list[str] = []  # node names, in the order their claims were deleted

    # -- building the world

    def add_node_class(self, node_class: NodeClass) -> None:
        with self._lock:
            self._classes[node_class.name] = node_class

    def add_node_pool(self, pool: NodePool, nodes: int) -> list[str]:
        """The pool and `nodes` Ready nodes of it, at what its node class resolves to now."""
        with self._lock:
            self._pools[pool.name] = pool
            resolved = self._resolve(self._classes[pool.node_class])
            if resolved is None:
                raise ValueError(f"node class {pool.node_class} resolves to no AMI")
            names = []
            for _ in range(nodes):
                claim = self._launch(pool, *resolved)
                self._join(claim)
                names.append(claim.node_name)
            return names

    # -- the Cluster port's side

    def node_pools(self) -> list[NodePool]:
        """The pools, each with its status.resources: the capacity of its launched claims."""
        with self._lock:
            return [self._with_usage(self._pools[n]) for n in sorted(self._pools)]

    def _with_usage(self, pool: NodePool) -> NodePool:
        count = sum(1 for c in self._claims.values() if c.pool == pool.name)
        usage = PoolResources(
            M5_XLARGE_CAPACITY.cpu_millis * count, M5_XLARGE_CAPACITY.memory_bytes * count, count
        )
        return replace(pool, usage=usage)

    def node_classes(self) -> list[NodeClass]:
        with self._lock:
            return [self._status(self._classes[n]) for n in sorted(self._classes)]

    def node_class(self, name: str) -> NodeClass:
        with self._lock:
            found = self._classes.get(name)
            if found is None:
                raise NotFoundError(f'ec2nodeclasses.karpenter.k8s.aws "{name}" not found')
            return self._status(found)

    def set_ami_selector(self, name: str, terms: Sequence[AmiSelectorTerm]) -> NodeClass:
        with self._lock:
            found = self.node_class(name)
            self._classes[name] = replace(found, ami_selector_terms=tuple(terms))
            updated = self._status(self._classes[name])
        self.wake()
        return updated

    def node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        with self._lock:
            claims = [c for c in self._claims.values() if node_pool is None or c.pool == node_pool]
            return [self._view(c) for c in sorted(claims, key=lambda c: c.name)]

    def wake(self) -> None:
        """Something drift depends on changed (a node class, the control plane's version)."""
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._clock.call_later(0.0, self._round)

    # -- resolving and drift

    def _control_plane_minor(self) -> str:
        match = re.match(r"v?(\d+\.\d+)", self._kube.server_version())
        return match.group(1) if match else ""

    def _resolve(self, node_class: NodeClass) -> tuple[str, str] | None:
        """(image id, Kubernetes minor) the node class launches now, or None."""
        for term in node_class.ami_selector_terms:
            if term.alias:
                family, _, release = term.alias.partition("@")
                minor = self._control_plane_minor()
                return f"ami-{family}-{minor}-{release or 'latest'}".replace(".", "-"), minor
            if term.id and term.id in self._images:
                return term.id, self._images[term.id]
        return None

    def _status(self, node_class: NodeClass) -> NodeClass:
        resolved = self._resolve(node_class)
        zones = node_class.zones or _ZONES  # its subnets: every zone of the sandbox's VPC
        return replace(node_class, amis=(resolved[0],) if resolved else (), zones=zones)

    def _target(self, claim: _Claim) -> tuple[str, str] | None:
        node_class = self._classes.get(claim.node_class)
        return None if node_class is None else self._resolve(node_class)

    def _drifted(self, claim: _Claim) -> bool:
        target = self._target(claim)
        return target is not None and claim.node_name != "" and claim.image_id != target[0]

    def _node_ready(self, claim: _Claim) -> bool:
        if not claim.node_name:
            return False
        try:
            return self._kube.get_node(claim.node_name).ready
        except NotFoundError:
            return False

    def _view(self, claim: _Claim) -> NodeClaim:
        return claim.view(self._drifted(claim), self._node_ready(claim))

    # -- the controllers

    def _round(self) -> None:
        with self._lock:
            self._scheduled = False
            busy = False
            for pool in list(self._pools.values()):
                busy = self._reconcile(pool) or busy
            if busy:
                self._scheduled = True
                self._clock.call_later(ROUND_SECONDS, self._round)

    def _reconcile(self, pool: NodePool) -> bool:
        """One pass of launch, termination and drift disruption over a pool; True while
        anything is under way or waiting."""
        now = self._clock.now()
        claims = [c for c in self._claims.values() if c.pool == pool.name]
        for claim in claims:
            if not claim.node_name and now - claim.launched_at >= self._join_delay:
                self._join(claim)
        for claim in claims:
            replacement = self._claims.get(claim.replacement)
            if claim.replacement and not claim.deleting and replacement is not None:
                claim.deleting = self._node_ready(replacement)
            if claim.deleting and self._drain(claim):
                self._delete(claim)
        claims = [c for c in self._claims.values() if c.pool == pool.name]
        disrupting = [c for c in claims if c.replacement]
        steady = [c for c in claims if not c.replaces or c.replaces not in self._claims]
        room = pool.drift_budget(len(steady)) - len(disrupting)
        drifted = sorted(
            (c for c in claims if not c.replacement and self._drifted(c)), key=lambda c: c.name
        )
        # Karpenter disrupts a node only when its scheduling simulation finds a place for
        # every pod that would move (kubernetes-sigs/karpenter pkg/controllers/disruption:
        # SimulateScheduling): a drifted node whose pods no NodePool's nodes take stays.
        movable = [c for c in drifted if self._pods_can_move(pool, c)]
        for claim in movable[: max(0, room)]:
            if not self._within_limits(pool):
                break  # Karpenter launches no node past the pool's spec.limits
            self._disrupt(pool, claim)
        claims = [c for c in self._claims.values() if c.pool == pool.name]
        now_disrupting = sum(1 for c in claims if c.replacement)
        self.max_disrupting[pool.name] = max(self.max_disrupting.get(pool.name, 0), now_disrupting)
        launching = any(not c.node_name for c in claims)
        return bool(now_disrupting or launching or drifted)

    def _launch(self, pool: NodePool, image_id: str, minor: str) -> _Claim:
        serial = next(self._serial)
        claim = _Claim(
            name=f"{pool.name}-{serial:05x}",
            pool=pool.name,
            node_class=pool.node_class,
            image_id=image_id,
            minor=minor,
            launched_at=self._clock.now(),
        )
        self._claims[claim.name] = claim
        return claim

    def _join(self, claim: _Claim) -> None:
        serial = int(claim.name.rsplit("-", 1)[1], 16)
        name = f"ip-10-200-{(serial >> 8) & 255}-{serial & 255}.ec2.internal"
        node_class = self._classes.get(claim.node_class)
        zones = (node_class.zones if node_class is not None else ()) or _ZONES
        zone = zones[serial % len(zones)]
        labels = {
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "node.kubernetes.io/instance-type": "m5.xlarge",
            "topology.kubernetes.io/zone": zone,
            "karpenter.sh/capacity-type": "on-demand",
            "karpenter.sh/registered": "true",
            KARPENTER_NODEPOOL_LABEL: claim.pool,
            KARPENTER_NODECLASS_LABEL: claim.node_class,
        }
        pool = self._pools.get(claim.pool)
        taints: tuple[Taint, ...] = ()
        if pool is not None:
            # The template's labels, and a value each `In` requirement allows (the first, where
            # the default above is not among them); startupTaints are not modelled (a real
            # node loses them before pods land).
            labels.update(pool.labels)
            for requirement in pool.requirements:
                allowed = requirement.values
                if (
                    requirement.operator == "In"
                    and allowed
                    and labels.get(requirement.key) not in allowed
                ):
                    labels[requirement.key] = allowed[0]
            taints = pool.taints
        self._kube.add_node(
            Node(
                name=name,
                labels=MappingProxyType(labels),
                taints=taints,
                kubelet_version=kubelet_version(claim.minor),
                allocatable=M5_XLARGE_ALLOCATABLE,
                provider_id=f"aws:///{labels['topology.kubernetes.io/zone']}/i-0k{serial:015x}",
            )
        )
        claim.node_name = name

    def _pods_can_move(self, pool: NodePool, claim: _Claim) -> bool:
        try:
            node = self._kube.get_node(claim.node_name)
        except NotFoundError:
            return True  # nothing left on it to place
        moving = [p for p in self._kube.list_pods(node_name=node.name) if moves_on_drift(p)]
        pools = list(self._pools.values())
        if drift_problems(pool, pools, [node], moving, lambda p: p.key):
            return False
        if not any(v.persistent_claim for p in moving for v in p.spec.volumes):
            return True
        # Karpenter's simulation honours volume topology (scheduling.md, "Persistent Volume
        # Topology"): a pod whose volume is in a zone no pool may launch in keeps its node.
        by_claim = {v.claim: v for v in self._kube.list_persistent_volumes() if v.claim}
        launchable = {c.name: self._status(c).zones for c in self._classes.values()}
        return not drift_volume_problems(
            pool,
            pools,
            [node],
            moving,
            by_claim=by_claim,
            name=lambda p: p.key,
            known=live_zones(self._kube.list_nodes()),
            class_zones=launchable,
        )

    def _within_limits(self, pool: NodePool) -> bool:
        """May one more node launch under `pool`'s spec.limits, the nodes it has counted by
        capacity (nodepools.md, "spec.limits")? The fake always pre-spins a replacement."""
        limits, usage = pool.limits, self._with_usage(pool).usage
        one = M5_XLARGE_CAPACITY
        checks = (
            (limits.cpu_millis, usage.cpu_millis, one.cpu_millis),
            (limits.memory_bytes, usage.memory_bytes, one.memory_bytes),
            (limits.nodes, usage.nodes, 1),
        )
        return all(limit is None or (used or 0) + more <= limit for limit, used, more in checks)

    def _disrupt(self, pool: NodePool, claim: _Claim) -> None:
        """Taint the drifted node, then pre-spin its replacement at what the class resolves to."""
        target = self._target(claim)
        if target is None:
            return
        self._kube.add_taint(claim.node_name, KARPENTER_DISRUPTED_TAINT)
        replacement = self._launch(pool, *target)
        replacement.replaces = claim.name
        claim.replacement = replacement.name

    def _drain(self, claim: _Claim) -> bool:
        """Evict what may be evicted; True once nothing but DaemonSet and mirror pods is left."""
        empty = True
        for decision in decide_all(self._kube.list_pods(node_name=claim.node_name), _EVICT_ALL):
            pod = decision.pod
            if decision.verdict is not Verdict.EVICT or pod.is_finished:
                continue
            empty = False
            if pod.is_terminating:
                continue
            # Karpenter's termination controller retries a refused eviction until it passes.
            with contextlib.suppress(EvictionBlockedError, NotFoundError, MultiplePdbsError):
                self._kube.evict_pod(pod.namespace, pod.name)
        return empty

    def _delete(self, claim: _Claim) -> None:
        self._kube.remove_node(claim.node_name)
        self.replaced.append(claim.node_name)
        del self._claims[claim.name]
        replacement = self._claims.get(claim.replacement)
        if replacement is not None:
            replacement.replaces = ""


def install_karpenter(
    kube: KarpenterHost,
    clock: VirtualClock,
    *,
    images: Mapping[str, str] | None = None,
    join_delay_seconds: float = DEFAULT_JOIN_DELAY_SECONDS,
) -> FakeKarpenter:
    """A FakeKarpenter serving `kube`'s Karpenter port calls and following its version."""
    karpenter = FakeKarpenter(kube, clock, images=images, join_delay_seconds=join_delay_seconds)
    kube.attach_karpenter(karpenter)
    return karpenter


__all__ = [
    "DRIFTED",
    "FakeKarpenter",
    "KarpenterHost",
    "install_karpenter",
    "kubelet_version",
    "public_image_minors",
]
