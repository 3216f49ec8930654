"""DaemonSets: one pod per node that should run it (RollingUpdate, maxUnavailable 1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from upgrader.core.kube import (
    FARGATE_COMPUTE_LABEL,
    Node,
    Pod,
    PodSpec,
    Taint,
    TaintEffect,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.cluster.controllers.base import (
    REVISION_LABEL,
    Changes,
    Controller,
    NewPod,
    PodEvent,
    View,
    frozen_copy,
    is_active,
)
from upgrader.sandbox.cluster.scheduler import effective_taints

# What the DaemonSet controller adds to every pod it makes, so that its pods keep running on
# cordoned, pressured or briefly unreachable nodes.
DAEMON_TOLERATIONS = (
    Toleration("node.kubernetes.io/not-ready", "Exists", effect=TaintEffect.NO_EXECUTE),
    Toleration("node.kubernetes.io/unreachable", "Exists", effect=TaintEffect.NO_EXECUTE),
    Toleration("node.kubernetes.io/disk-pressure", "Exists", effect=TaintEffect.NO_SCHEDULE),
    Toleration("node.kubernetes.io/memory-pressure", "Exists", effect=TaintEffect.NO_SCHEDULE),
    Toleration("node.kubernetes.io/pid-pressure", "Exists", effect=TaintEffect.NO_SCHEDULE),
    Toleration("node.kubernetes.io/unschedulable", "Exists", effect=TaintEffect.NO_SCHEDULE),
)


class DaemonSetController(Controller):
    kind = WorkloadKind.DAEMON_SET

    def __init__(self, workload: Workload, startup_seconds: float) -> None:
        self.node_of: dict[str, str] = {}  # pod key -> the node it was made for
        self.pods_on: dict[str, dict[str, None]] = {}  # node -> keys of its pods there
        self.rolling = False
        super().__init__(workload, startup_seconds)

    def _refresh(self) -> None:
        super()._refresh()
        self.pod_labels = frozen_copy({**self.template.labels, REVISION_LABEL: self._revision_name})
        spec = self.template.spec
        self.pod_spec = replace(spec, tolerations=spec.tolerations + DAEMON_TOLERATIONS)

    def restart(self, now: float) -> None:
        super().restart(now)
        self.rolling = True  # only then can pods be outdated; saves a scan per pod event

    @property
    def _revision_name(self) -> str:
        return f"{self.name}-{self.revision}"

    def adopt(self, key: str, new: NewPod) -> None:
        super().adopt(key, new)
        if new.node is not None:
            self.node_of[key] = new.node
            self.pods_on.setdefault(new.node, {})[key] = None

    def release(self, key: str) -> None:
        super().release(key)
        node = self.node_of.get(key)  # kept until `react` has used it
        if node is not None and node in self.pods_on:
            self.pods_on[node].pop(key, None)

    def should_run(self, node: Node) -> bool:
        """nodeShouldRunDaemonPod: selector, affinity, and NoSchedule/NoExecute taints. Never
        on Fargate ("Fargate doesn't support DaemonSets"; EKS's own add-on DaemonSets carry a
        node affinity excluding `eks.amazonaws.com/compute-type: fargate`)."""
        if node.labels.get(FARGATE_COMPUTE_LABEL) == "fargate":
            return False
        return _selects_node(self.pod_spec, node) and _tolerates(
            self.pod_spec.tolerations,
            effective_taints(node),
            (TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE),
        )

    def should_continue(self, node: Node) -> bool:
        """A pod already there stays unless the selector or a NoExecute taint says otherwise."""
        return _selects_node(self.pod_spec, node) and _tolerates(
            self.pod_spec.tolerations, effective_taints(node), (TaintEffect.NO_EXECUTE,)
        )

    def sync(self, view: View) -> Changes:
        changes = Changes()
        for name in view.nodes:
            changes.add(self._sync_node(view, name))
        return changes if changes else self._roll(view)

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:
        node = self.node_of.get(pod.key)
        if event is PodEvent.GONE:
            self.node_of.pop(pod.key, None)
        changes = Changes()
        if node is not None and node in view.nodes:
            changes.add(self._sync_node(view, node))
        return changes if changes else self._roll(view)

    def node_changed(self, view: View, name: str) -> Changes:
        if name not in view.nodes:
            for key in self.pods_on.pop(name, {}):
                self.node_of.pop(key, None)
            return Changes()
        return self._sync_node(view, name)

    def _sync_node(self, view: View, name: str) -> Changes:
        node = view.nodes[name]
        here = [view.pods[key] for key in self.pods_on.get(name, {})]
        here = [pod for pod in here if is_active(pod)]
        if not here:
            return Changes(create=[self._new_pod(node=name)] if self.should_run(node) else [])
        if not self.should_continue(node):
            return Changes(delete=[pod.key for pod in here])
        return Changes(delete=[pod.key for pod in here[1:]])

    def _roll(self, view: View) -> Changes:
        """RollingUpdate, maxUnavailable 1: replace one outdated pod while all others are Ready."""
        if not self.rolling:
            return Changes()
        active = self.active(view)
        if any(not pod.ready for pod in active):
            return Changes()
        outdated = [pod for pod in active if pod.labels.get(REVISION_LABEL) != self._revision_name]
        self.rolling = bool(outdated)
        return Changes(delete=[outdated[0].key]) if outdated else Changes()

    def scalable(self) -> bool:
        return False

    def status(self, view: View) -> Workload:
        return replace(super().status(view), replicas=None)


def _selects_node(spec: PodSpec, node: Node) -> bool:
    return all(node.labels.get(k) == v for k, v in spec.node_selector.items()) and (
        spec.node_affinity.matches(node.labels)
    )


def _tolerates(
    tolerations: tuple[Toleration, ...], taints: Iterable[Taint], effects: tuple[TaintEffect, ...]
) -> bool:
    return all(
        taint.effect not in effects or any(t.tolerates(taint) for t in tolerations)
        for taint in taints
    )
