"""ReplicaSets, and Deployments rolling between them (the default RollingUpdate: 25% surge,
25% unavailable, no minReadySeconds).
"""

from __future__ import annotations

from dataclasses import replace

from upgrader.core.kube import (
    LabelSelector,
    OwnerRef,
    Pod,
    Workload,
    WorkloadKind,
    resolve_int_or_percent,
)
from upgrader.sandbox.cluster.controllers.base import (
    POD_TEMPLATE_HASH_LABEL,
    Changes,
    Controller,
    PodEvent,
    View,
    deletion_rank,
)

# Deployment RollingUpdate defaults.
MAX_SURGE = "25%"
MAX_UNAVAILABLE = "25%"


class ReplicaSetController(Controller):
    kind = WorkloadKind.REPLICA_SET

    def __init__(
        self,
        workload: Workload,
        startup_seconds: float,
        parent: DeploymentController | None = None,
    ) -> None:
        super().__init__(workload, startup_seconds)
        self.parent = parent

    def sync(self, view: View) -> Changes:
        active = self.active(view)
        missing = self.replicas - len(active)
        if missing > 0:
            return Changes(create=[self._new_pod() for _ in range(missing)])
        if missing < 0:
            doomed = sorted(active, key=deletion_rank)[:-missing]
            return Changes(delete=[pod.key for pod in doomed])
        return Changes()

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:
        if self.parent is not None:
            return self.parent.react(view, pod, event)
        return super().react(view, pod, event)

    def restartable(self) -> bool:
        return False  # kubectl rollout restart supports Deployments, StatefulSets, DaemonSets


class DeploymentController(Controller):
    kind = WorkloadKind.DEPLOYMENT

    def __init__(self, workload: Workload, startup_seconds: float) -> None:
        super().__init__(workload, startup_seconds)
        self.replica_sets: list[ReplicaSetController] = []

    def owned(self, view: View) -> list[Pod]:
        return [pod for rs in self.replica_sets for pod in rs.owned(view)]

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:  # noqa: ARG002
        if event is PodEvent.READY and not self._rolling():
            return Changes()
        return self.sync(view)

    def _rolling(self) -> bool:
        current = f"{self.name}-{self.revision}"
        return any(rs.replicas for rs in self.replica_sets if rs.name != current)

    def sync(self, view: View) -> Changes:
        changes = Changes()
        new = self._current_replica_set(changes)
        olds = [rs for rs in self.replica_sets if rs is not new]
        if any(rs.replicas for rs in olds):
            self._roll(view, new, olds)
        else:
            new.replicas = self.replicas  # no rollout under way: just scale
        for rs in self.replica_sets:
            changes.add(rs.sync(view))
        return changes

    def _current_replica_set(self, changes: Changes) -> ReplicaSetController:
        name = f"{self.name}-{self.revision}"
        for rs in self.replica_sets:
            if rs.name == name:
                return rs
        labels = {**self.template.labels, POD_TEMPLATE_HASH_LABEL: self.revision}
        selector = LabelSelector(
            match_labels={**self.selector.match_labels, POD_TEMPLATE_HASH_LABEL: self.revision},
            match_expressions=self.selector.match_expressions,
        )
        workload = Workload(
            kind=WorkloadKind.REPLICA_SET,
            namespace=self.namespace,
            name=name,
            selector=selector,
            template=replace(self.template, labels=labels),
            replicas=0,
            owner=OwnerRef(WorkloadKind.DEPLOYMENT.value, self.name),
            labels=labels,
        )
        rs = ReplicaSetController(workload, self.startup_seconds, parent=self)
        self.replica_sets.append(rs)
        changes.new_controllers.append(rs)
        return rs

    def _roll(
        self, view: View, new: ReplicaSetController, olds: list[ReplicaSetController]
    ) -> None:
        """One step of the RollingUpdate strategy (reconcileNewReplicaSet/OldReplicaSets)."""
        desired = self.replicas
        surge = resolve_int_or_percent(MAX_SURGE, desired, round_up=True)
        unavailable = resolve_int_or_percent(MAX_UNAVAILABLE, desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1  # ResolveFenceposts: a rollout must be able to make progress
        min_available = desired - unavailable

        total = new.replicas + sum(rs.replicas for rs in olds)
        if new.replicas < desired:
            new.replicas = min(desired, new.replicas + max(0, desired + surge - total))
        else:
            new.replicas = desired
        total = new.replicas + sum(rs.replicas for rs in olds)

        # First drop old replicas that are not Ready anyway: that costs no availability.
        new_unavailable = new.replicas - new.ready_count(view)
        cleanup = total - min_available - new_unavailable
        for rs in olds:
            if cleanup <= 0:
                break
            take = max(0, min(rs.replicas - rs.ready_count(view), cleanup))
            rs.replicas -= take
            cleanup -= take

        # Then scale the old ReplicaSets down as far as availability allows.
        budget = new.ready_count(view) + sum(rs.ready_count(view) for rs in olds) - min_available
        for rs in olds:
            if budget <= 0:
                break
            take = min(rs.replicas, budget)
            rs.replicas -= take
            budget -= take

    def status(self, view: View) -> Workload:
        ready = sum(rs.ready_count(view) for rs in self.replica_sets)
        return replace(super().status(view), ready_replicas=ready, available_replicas=ready)
