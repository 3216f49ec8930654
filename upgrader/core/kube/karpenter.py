"""Karpenter v1: karpenter.sh/v1 NodePool and NodeClaim, karpenter.k8s.aws/v1 EC2NodeClass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from upgrader.core.kube.scheduling import SelectorRequirement, Taint, TaintEffect

KARPENTER_NODEPOOL_LABEL = "karpenter.sh/nodepool"
KARPENTER_NODECLASS_LABEL = "karpenter.k8s.aws/ec2nodeclass"
KARPENTER_DISRUPTED_TAINT = Taint("karpenter.sh/disrupted", TaintEffect.NO_SCHEDULE)
DRIFTED = "Drifted"  # a NodeClaim condition, and a disruption budget's reason


@dataclass(frozen=True)
class AmiSelectorTerm:
    """One entry of an EC2NodeClass's `spec.amiSelectorTerms`: an alias ("al2023@v20241011",
    "al2023@latest") or an id, or a name/owner/tags filter."""

    alias: str = ""
    id: str = ""
    name: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        raw: dict[str, object] = {
            k: v for k, v in (("alias", self.alias), ("id", self.id), ("name", self.name)) if v
        }
        if self.owner:
            raw["owner"] = self.owner
        if self.tags:
            raw["tags"] = dict(self.tags)
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> AmiSelectorTerm:
        tags = raw.get("tags")
        return cls(
            alias=str(raw.get("alias") or ""),
            id=str(raw.get("id") or ""),
            name=str(raw.get("name") or ""),
            owner=str(raw.get("owner") or ""),
            tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        )


@dataclass(frozen=True)
class NodeClass:
    """An EC2NodeClass: how its nodes launch. `amis` is `status.amis`, the ids the selector
    resolves to now (for an alias: at the control plane's Kubernetes version); `zones`, its
    `status.subnets`' zones."""

    name: str
    ami_selector_terms: tuple[AmiSelectorTerm, ...] = ()
    ami_family: str = ""  # spec.amiFamily ("AL2023", "AL2", "Bottlerocket"); "" with an alias
    amis: tuple[str, ...] = ()
    # status.subnets[].zone: the zones of the subnets its selector resolves to, where its
    # nodes can launch; empty when not reported.
    zones: tuple[str, ...] = ()

    @property
    def alias(self) -> str:
        return next((t.alias for t in self.ami_selector_terms if t.alias), "")


@dataclass(frozen=True)
class DisruptionBudget:
    """A NodePool's `spec.disruption.budgets` entry: at most `nodes` ("10%" or "3") nodes
    disrupted at once, for `reasons` (empty: every reason) while `schedule` is active."""

    nodes: str = "10%"
    reasons: tuple[str, ...] = ()
    schedule: str = ""
    duration: str = ""

    def allowed(self, total: int) -> int:
        """Nodes this budget lets be disrupting at once out of `total` (a percentage rounds
        up, as Karpenter computes it)."""
        text = self.nodes.strip()
        if text.endswith("%"):
            percent = int(text[:-1])
            return -(-total * percent // 100)
        return int(text)


@dataclass(frozen=True)
class PoolResources:
    """A NodePool's `spec.limits`, or what its nodes count against them (`status.resources`:
    the sum of its nodes' capacity, Karpenter's own tally). None: not set (no limit), or not
    reported."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    nodes: int | None = None

    @property
    def empty(self) -> bool:
        return self.cpu_millis is None and self.memory_bytes is None and self.nodes is None


@dataclass(frozen=True)
class NodePool:
    """A Karpenter NodePool. The template fields say what its new nodes carry (see
    upgrader/core/nodepool_shapes.py): `labels` (spec.template.metadata.labels), `requirements`
    (spec.template.spec.requirements), `taints` (spec.template.spec.taints) and
    `startup_taints` (spec.template.spec.startupTaints, gone before pods land); `limits`
    (spec.limits) and `usage` (status.resources) bound the nodes it may add."""

    name: str
    node_class: str  # spec.template.spec.nodeClassRef.name
    budgets: tuple[DisruptionBudget, ...] = (DisruptionBudget(),)
    labels: Mapping[str, str] = field(default_factory=dict)
    requirements: tuple[SelectorRequirement, ...] = ()
    taints: tuple[Taint, ...] = ()
    startup_taints: tuple[Taint, ...] = ()
    limits: PoolResources = PoolResources()  # spec.limits (cpu, memory, nodes)
    usage: PoolResources = PoolResources()  # status.resources

    def drift_budget(self, total: int) -> int:
        """The most restrictive budget that applies to drift (Karpenter's default: 10%)."""
        applying = [b for b in self.budgets if not b.reasons or DRIFTED in b.reasons]
        if not self.budgets:
            applying = [DisruptionBudget()]
        if not applying:
            return total  # budgets that name other reasons only leave drift unbounded
        return min(b.allowed(total) for b in applying)


@dataclass(frozen=True)
class NodeClaim:
    """A Karpenter NodeClaim: one machine of a NodePool, and the node it registered."""

    name: str
    node_pool: str
    node_class: str
    node_name: str = ""  # status.nodeName; "" until it registered
    image_id: str = ""  # status.imageID
    ready: bool = False
    drifted: bool = False
    deleting: bool = False  # metadata.deletionTimestamp is set: Karpenter is draining it
