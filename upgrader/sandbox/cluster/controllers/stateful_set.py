"""StatefulSets, as `podManagementPolicy: Parallel`: a pod is replaced only once the old one is
gone, under the same name.
"""

from __future__ import annotations

from upgrader.core.kube import Pod, WorkloadKind
from upgrader.sandbox.cluster.controllers.base import (
    REVISION_LABEL,
    Changes,
    Controller,
    PodEvent,
    View,
    frozen_copy,
    is_active,
)


class StatefulSetController(Controller):
    kind = WorkloadKind.STATEFUL_SET

    def _refresh(self) -> None:
        super()._refresh()
        self.pod_labels = frozen_copy({**self.template.labels, REVISION_LABEL: self._revision_name})

    @property
    def _revision_name(self) -> str:
        return f"{self.name}-{self.revision}"

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:  # noqa: ARG002
        # Readiness matters too: a rolling update moves on when the last pod is Ready.
        return self.sync(view)

    def sync(self, view: View) -> Changes:
        by_name = {pod.name: pod for pod in self.owned(view)}
        changes = Changes()
        for ordinal in range(self.replicas):
            name = f"{self.name}-{ordinal}"
            if name not in by_name:  # the old pod must be gone before its name is reused
                changes.create.append(self._new_pod(name=name))
        for pod in by_name.values():
            if is_active(pod) and _ordinal(pod.name) >= self.replicas:
                changes.delete.append(pod.key)
        if changes.create or changes.delete:
            return changes
        # RollingUpdate: replace the highest outdated ordinal once every pod is Ready.
        pods = [by_name[f"{self.name}-{i}"] for i in range(self.replicas)]
        if all(is_active(pod) and pod.ready for pod in pods):
            outdated = [p for p in pods if p.labels.get(REVISION_LABEL) != self._revision_name]
            if outdated:
                changes.delete.append(outdated[-1].key)
        return changes


def _ordinal(name: str) -> int:
    return int(name.rsplit("-", 1)[1])
