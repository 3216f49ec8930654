"""Jobs: `parallelism = completions` pods, run to completion, never failing."""

from __future__ import annotations

from upgrader.core.kube import Pod, PodPhase, Workload, WorkloadKind
from upgrader.sandbox.cluster.controllers.base import Changes, Controller, PodEvent, View


class JobController(Controller):
    kind = WorkloadKind.JOB

    def __init__(
        self, workload: Workload, startup_seconds: float, run_seconds: float | None
    ) -> None:
        super().__init__(workload, startup_seconds, run_seconds)
        # Counted as they finish, as the Job's status does: a finished pod lost with its node
        # must not be run again.
        self.succeeded = 0

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:
        if event is PodEvent.FINISHED and pod.phase is PodPhase.SUCCEEDED:
            self.succeeded += 1
        return super().react(view, pod, event)

    def sync(self, view: View) -> Changes:
        missing = self.replicas - self.succeeded - len(self.active(view))
        return Changes(create=[self._new_pod() for _ in range(max(0, missing))])

    def scalable(self) -> bool:
        return False

    def restartable(self) -> bool:
        return False
