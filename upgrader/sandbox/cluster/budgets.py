"""PodDisruptionBudgets in the fake cluster: which pods each one counts, its status, violations.

Pods that share one labels mapping (a controller's template) form a label group, so a PDB's
selector is matched once per group, not once per pod. The rules themselves (what is healthy,
expected scale, disruptedPods) are in `disruption`.
"""

from __future__ import annotations

from dataclasses import replace

from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import Pod, PodDisruptionBudget
from upgrader.sandbox.cluster.controllers import (
    DeploymentController,
    ReplicaSetController,
    StatefulSetController,
)
from upgrader.sandbox.cluster.disruption import (
    budget_covers,
    is_healthy,
    live_disruptions,
    pdb_status,
)
from upgrader.sandbox.cluster.store import (
    Budget,
    ClusterStore,
    ControllerKey,
    LabelGroup,
    PdbViolation,
)


class Budgets(ClusterStore):
    """PDB objects and their status, computed from the pods as the disruption controller does."""

    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        with self._api("list", "poddisruptionbudgets", namespace or ""):
            return [
                self._status(budget)
                for key, budget in sorted(self._budgets.items())
                if namespace is None or budget.spec.namespace == namespace
            ]

    def add_pdb(self, pdb: PodDisruptionBudget) -> None:
        """A PodDisruptionBudget; its status fields are ignored and computed from the pods."""
        with self._locked():
            if pdb.key in self._budgets:
                raise ConflictError(f'poddisruptionbudgets "{pdb.name}" already exists')
            budget = Budget(replace(pdb, created_at=pdb.created_at or self._stamp()))
            self._budgets[pdb.key] = budget
            self._budgets_by_namespace.setdefault(pdb.namespace, []).append(budget)
            for group in self._label_groups.get(pdb.namespace, {}).values():
                if pdb.selector.matches(group.labels):
                    group.budgets.append(budget)
                    budget.groups[id(group)] = group

    def delete_pdb(self, namespace: str, name: str) -> None:
        with self._api("delete", "poddisruptionbudgets", namespace, name):
            budget = self._budgets.pop(f"{namespace}/{name}", None)
            if budget is None:
                raise NotFoundError(f'poddisruptionbudgets.policy "{name}" not found')
            self._budgets_by_namespace[namespace].remove(budget)
            for group in budget.groups.values():
                group.budgets.remove(budget)

    def _label_group(self, pod: Pod) -> LabelGroup:
        groups = self._label_groups.setdefault(pod.namespace, {})
        group = groups.get(id(pod.labels))
        if group is None:
            budgets = [b for b in self._budgets_in(pod.namespace) if budget_covers(b.spec, pod)]
            group = LabelGroup(pod.labels, budgets, self._owner_of(pod), pod.owner)
            groups[id(pod.labels)] = group
            for budget in budgets:
                budget.groups[id(group)] = group
        return group

    def _covering(self, pod: Pod) -> list[Budget]:
        """The PDBs that count this pod."""
        return self._label_groups[pod.namespace][id(pod.labels)].budgets

    def _budgets_in(self, namespace: str) -> list[Budget]:
        return self._budgets_by_namespace.get(namespace, [])

    def _status(self, budget: Budget) -> PodDisruptionBudget:
        pods = [self._pods[key] for key in budget.pod_keys()]
        now = self._clock.now()
        if budget.disrupted:
            budget.disrupted = live_disruptions(budget.disrupted, pods, now)
        return pdb_status(
            budget.spec, pods, lambda: self._expected_scale(budget), budget.disrupted, now
        )

    def _expected_scale(self, budget: Budget) -> int | None:
        """getExpectedScale: the replicas of the pods' controllers, each counted once.
        Pods without an owner are ignored; an owner without a scale (DaemonSet, Job) or that
        cannot be found makes it None."""
        scales: dict[ControllerKey, int] = {}
        for group in budget.groups.values():
            if group.owned_by is None:
                continue
            ctrl = group.owner
            if isinstance(ctrl, ReplicaSetController) and ctrl.parent is not None:
                ctrl = ctrl.parent
            if not isinstance(
                ctrl, ReplicaSetController | DeploymentController | StatefulSetController
            ):
                return None
            scales[ctrl.key] = ctrl.replicas
        return sum(scales.values())

    def _losing_budgets(self, pod: Pod) -> list[Budget]:
        """The PDBs whose healthy count drops if this pod goes."""
        if not is_healthy(pod, {}, self._clock.now()):
            return []
        return self._covering(pod)

    def _check_budgets(self, budgets: list[Budget], pod: Pod, cause: str) -> None:
        for budget in budgets:
            status = self._status(budget)
            if status.current_healthy < status.desired_healthy:
                self._counters.pdb_violations.append(
                    PdbViolation(
                        pdb=status.key,
                        pod=pod.key,
                        at=self._clock.now(),
                        cause=cause,
                        current_healthy=status.current_healthy,
                        desired_healthy=status.desired_healthy,
                    )
                )
