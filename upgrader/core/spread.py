"""Topology spread across a node replacement: can each pod that moves land without breaking
its `DoNotSchedule` spread constraint, while the nodes it leaves still stand?

The rule is the scheduler's PodTopologySpread filter (kubernetes
pkg/scheduler/framework/plugins/podtopologyspread/filtering.go, `Filter`, and common.go):
- only nodes carrying every DoNotSchedule constraint's topology key are domains
  (`nodeLabelsMatchSpreadConstraints`); with `nodeAffinityPolicy: Honor` (the default) only
  nodes the pod's nodeSelector and required affinity accept; with `nodeTaintsPolicy: Honor`
  only nodes whose NoSchedule/NoExecute taints it tolerates (the default, Ignore, counts
  tainted and cordoned nodes too);
- a domain's count is the pods of the pod's namespace that the constraint's selector matches
  (plus the pod's own values of `matchLabelKeys`), terminating pods left out
  (`countPodsMatchSelector`); a null selector matches none;
- a node in domain d takes the pod when `count[d] + selfMatch - min <= maxSkew`, where `min` is
  the least count over all domains, or 0 while there are fewer domains than `minDomains`
  (`minMatchNum`).

Why this matters in a blue/green replacement: the blue nodes being drained are cordoned and
tainted but still exist, so they stay domains (the default taints policy ignores eksup's taint)
and keep their counts until they are deleted. A zone where only blue has nodes drops to 0 once
its last pod is evicted, and from then on every other zone may take a pod only while it holds
fewer than `maxSkew`: the replacement stays Pending, the drain waits for it, and blue is never
deleted. The same happens when green spans fewer zones than `minDomains`.

`spread_problem` replays the drain one eviction at a time, in the order most favourable to the
spread (pods of zones green also covers first), each replacement going to the least loaded
domain that will take it. When even that order gets stuck, a real drain (which does not order
by spread) will too. Each constraint is replayed on its own; `kubernetes.io/hostname` spread is
not replayed: green is cloned from blue node for node, so it has as many hostname domains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from upgrader.core.kube import Pod, Taint, TaintEffect, TopologySpread
from upgrader.core.placement import NodeShape, constraint_misses, node_selected

HOSTNAME_LABEL = "kubernetes.io/hostname"
DO_NOT_SCHEDULE = "DoNotSchedule"
# What a cordoned node carries while it drains (the node lifecycle controller's
# TaintNodesByCondition): under nodeTaintsPolicy Honor, blue stops being a domain for pods that
# do not tolerate it, even when the plan reads blue before the cordon.
CORDONED = Taint("node.kubernetes.io/unschedulable", TaintEffect.NO_SCHEDULE)


@dataclass(frozen=True)
class Placed:
    """A node during the replacement: its shape, the pods it runs, and whether new pods may
    land on it (blue nodes being drained and cordoned nodes take none, but still count)."""

    shape: NodeShape
    pods: tuple[Pod, ...] = ()
    takes_pods: bool = True


def hard_spreads(pod: Pod) -> tuple[TopologySpread, ...]:
    """The pod's DoNotSchedule constraints the replay checks (all but per-hostname ones)."""
    return tuple(
        c
        for c in pod.spec.topology_spread
        if c.when_unsatisfiable == DO_NOT_SCHEDULE and c.topology_key != HOSTNAME_LABEL
    )


def _selector(constraint: TopologySpread, pod: Pod) -> Callable[[Pod], bool]:
    base = constraint.label_selector
    own = {k: pod.labels[k] for k in constraint.match_label_keys if k in pod.labels}

    def matches(other: Pod) -> bool:
        if base is None:  # a null selector: LabelSelectorAsSelector(nil) is Nothing
            return False
        if other.namespace != pod.namespace or other.deletion_timestamp is not None:
            return False
        if any(other.labels.get(k) != v for k, v in own.items()):
            return False
        return base.matches(other.labels)

    return matches


def _eligible(constraint: TopologySpread, keys: Iterable[str], pod: Pod, shape: NodeShape) -> bool:
    """Whether `shape` is a domain node for `constraint` (nodeLabelsMatchSpreadConstraints and
    matchNodeInclusionPolicies)."""
    if any(k not in shape.labels for k in keys):
        return False
    spec = pod.spec
    if constraint.node_affinity_policy != "Ignore" and not node_selected(spec, shape):
        return False
    if constraint.node_taints_policy == "Honor":
        for taint in shape.taints:
            if taint.effect is TaintEffect.PREFER_NO_SCHEDULE:
                continue
            if not any(t.tolerates(taint) for t in spec.tolerations):
                return False
    return True


def spread_problem(
    moving: Sequence[Pod],
    blue: Sequence[Placed],
    others: Sequence[Placed],
    green: Sequence[NodeShape],
) -> str | None:
    """None when the pods of one workload in `moving` (all on `blue`, alike in namespace, labels
    and spec) can all move to `green` (or to `others` that take pods) without breaking a
    DoNotSchedule spread; else which constraint stops which move, with the domains' counts."""
    if not moving:
        return None
    pod = moving[0]
    constraints = hard_spreads(pod)
    if not constraints:
        return None
    keys = [
        c.topology_key for c in pod.spec.topology_spread if c.when_unsatisfiable == DO_NOT_SCHEDULE
    ]
    moving_keys = {p.key for p in moving}
    for constraint in constraints:
        problem = _replay(constraint, keys, pod, moving_keys, (blue, others, green))
        if problem is not None:
            return problem
    return None


@dataclass
class _Domains:
    """One constraint's domains while the drain is replayed: matching pods per domain, and the
    domains where some node (green, or another that takes pods) accepts the pod."""

    constraint: TopologySpread
    own: int  # selfMatchNum: 1 when the constraint's selector matches the pod itself
    counts: Counter[str] = field(default_factory=Counter)
    domains: set[str] = field(default_factory=set)
    takers: set[str] = field(default_factory=set)

    def floor(self) -> int:
        if len(self.domains) < self.constraint.min_domains:
            return 0
        return min((self.counts[d] for d in self.domains), default=0)

    def target(self) -> str | None:
        """The least loaded domain that takes the pod without exceeding maxSkew."""
        floor = self.floor()
        skew = self.constraint.max_skew
        fits = [d for d in self.takers if self.counts[d] + self.own - floor <= skew]
        return min(fits, key=lambda d: (self.counts[d], d)) if fits else None

    def stuck(self, moved: int, total: int, source: str) -> str:
        c = self.constraint
        self.counts[source] -= self.own  # as the scheduler sees it once that pod is gone
        shown = ", ".join(
            f"{d} {self.counts[d]}" + ("" if d in self.takers else " (blue only)")
            for d in sorted(self.domains)
        )
        why = (
            f"fewer {c.topology_key} domains ({len(self.domains)}) than minDomains "
            f"{c.min_domains}, so the minimum counts as 0"
            if len(self.domains) < c.min_domains
            else f"the least loaded domain holds {self.floor()}"
        )
        lacking = sorted(self.domains - self.takers)
        where = f"; no node that can take them is in {', '.join(lacking)}" if lacking else ""
        return (
            f"topologySpreadConstraint on {c.topology_key} (maxSkew {c.max_skew}, "
            f"DoNotSchedule): after {moved} of {total} pods move, the next one's replacement "
            f"fits no domain ({shown}; {why}){where}"
        )


def _replay(
    constraint: TopologySpread,
    keys: Sequence[str],
    pod: Pod,
    moving_keys: set[str],
    nodes: tuple[Sequence[Placed], Sequence[Placed], Sequence[NodeShape]],
) -> str | None:
    blue, others, green = nodes
    key = constraint.topology_key
    matches = _selector(constraint, pod)
    state = _Domains(constraint, 1 if matches(pod) else 0)
    counts = state.counts
    leaving: Counter[str] = Counter()  # moving pods per blue domain
    for placed, is_blue in [(b, True) for b in blue] + [(o, False) for o in others]:
        shape = placed.shape
        if is_blue and CORDONED not in shape.taints:
            shape = NodeShape(shape.name, shape.labels, (*shape.taints, CORDONED))
        if not _eligible(constraint, keys, pod, shape):
            continue
        value = shape.labels[key]
        state.domains.add(value)
        counts[value] += sum(1 for p in placed.pods if matches(p))
        if is_blue:
            leaving[value] += sum(1 for p in placed.pods if p.key in moving_keys)
        elif placed.takes_pods and not constraint_misses(pod.spec, shape):
            state.takers.add(value)
    for shape in green:
        if _eligible(constraint, keys, pod, shape):
            state.domains.add(shape.labels[key])
            if not constraint_misses(pod.spec, shape):
                state.takers.add(shape.labels[key])
    leaving = Counter({d: n for d, n in leaving.items() if n > 0})
    total = sum(leaving.values())
    moved = 0
    while leaving:
        # Favourable order: evict where a replacement can go back to the same domain first,
        # then from the fullest domain; a domain only blue covers empties last.
        sources = sorted(leaving, key=lambda d: (d not in state.takers, -counts[d], d))
        for source in sources:
            counts[source] -= state.own
            target = state.target()
            if target is not None:
                counts[target] += state.own
                leaving[source] -= 1
                if not leaving[source]:
                    del leaving[source]
                moved += 1
                break
            counts[source] += state.own
        else:
            return state.stuck(moved, total, sources[0])
    return None
