"""Workloads in the fake cluster: controllers added, listed, scaled, restarted and deleted, and the
HorizontalPodAutoscalers that set their replica counts.
"""

from __future__ import annotations

from dataclasses import replace

from upgrader.core.errors import ConflictError, NotFoundError, UserError
from upgrader.core.kube import HorizontalPodAutoscaler, Workload, WorkloadKind
from upgrader.sandbox.cluster.controllers import (
    Controller,
    DaemonSetController,
    DeploymentController,
    JobController,
    ReplicaSetController,
    StatefulSetController,
)
from upgrader.sandbox.cluster.pods import DEFAULT_STARTUP_SECONDS, Pods
from upgrader.sandbox.cluster.store import RESOURCES

# How often the HPA controller acts (kube-controller-manager's default sync period).
HPA_SYNC_SECONDS = 15.0
_CONTROLLERS: dict[WorkloadKind, type[Controller]] = {
    WorkloadKind.DEPLOYMENT: DeploymentController,
    WorkloadKind.REPLICA_SET: ReplicaSetController,
    WorkloadKind.STATEFUL_SET: StatefulSetController,
    WorkloadKind.DAEMON_SET: DaemonSetController,
    WorkloadKind.JOB: JobController,
}


class Workloads(Pods):
    """Controllers and HPAs."""

    def list_workloads(
        self, kind: WorkloadKind | None = None, namespace: str | None = None
    ) -> list[Workload]:
        kinds = [kind] if kind is not None else list(RESOURCES)
        result: list[Workload] = []
        for each in kinds:
            with self._api("list", RESOURCES[each], namespace or ""):
                view = self._view()
                result.extend(
                    ctrl.status(view)
                    for key, ctrl in sorted(self._controllers.items())
                    if key[0] is each and (namespace is None or key[1] == namespace)
                )
        return result

    def get_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        with self._api("get", RESOURCES[kind], namespace, name):
            return self._controller(kind, namespace, name).status(self._view())

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload:
        with self._api("patch", f"{RESOURCES[kind]}/scale", namespace, name):
            ctrl = self._controller(kind, namespace, name)
            if not ctrl.scalable():
                raise UserError(f"{kind.value} {namespace}/{name} has no scale subresource")
            if replicas < 0:
                raise UserError(f"replicas must not be negative, got {replicas}")
            ctrl.scale(replicas)
            self._apply(ctrl.sync(self._view()))
            for key, (hpa, _) in self._hpas.items():
                if (hpa.target_kind, hpa.namespace, hpa.target_name) == (
                    kind.value,
                    namespace,
                    name,
                ):
                    self._hpa_sync_after(HPA_SYNC_SECONDS, key)  # it takes its target back
            return ctrl.status(self._view())

    def restart_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        with self._api("patch", RESOURCES[kind], namespace, name):
            ctrl = self._controller(kind, namespace, name)
            if not ctrl.restartable():
                raise UserError(f"restarting a {kind.value} is not supported")
            ctrl.restart(self._clock.now())
            self._apply(ctrl.sync(self._view()))
            return ctrl.status(self._view())

    def add_workload(
        self,
        workload: Workload,
        startup_seconds: float = DEFAULT_STARTUP_SECONDS,
        run_seconds: float | None = None,
        *,
        starts: bool = True,
    ) -> None:
        """Create a controller; it creates its pods. `run_seconds` is a Job pod's run time.
        `starts=False`: none of its pods' containers ever start (a bad image): each stays
        Pending on the node it was bound to, never Ready (see `add_pod`)."""
        with self._locked():
            key = (workload.kind, workload.namespace, workload.name)
            if key in self._controllers:
                raise ConflictError(f"{workload.kind.value} {workload.namespace}/{workload.name}")
            workload = replace(workload, created_at=workload.created_at or self._stamp())
            ctrl: Controller
            if workload.kind is WorkloadKind.JOB:
                ctrl = JobController(workload, startup_seconds, run_seconds)
            else:
                ctrl = _CONTROLLERS[workload.kind](workload, startup_seconds)
            self._controllers[key] = ctrl
            if not starts:
                self._never_start_workloads.add(key)
            self._apply(ctrl.sync(self._view()))

    def delete_workload(self, kind: WorkloadKind, namespace: str, name: str) -> None:
        """Background cascading deletion, kubectl's default: the controller goes at once, the
        controllers it owns (a Deployment's ReplicaSets) too, and their pods are deleted
        gracefully by the garbage collector (no PDB is asked)."""
        with self._api("delete", f"{kind.value.lower()}s", namespace, name):
            doomed = [self._controller(kind, namespace, name)]
            for key, ctrl in list(self._controllers.items()):
                owner = ctrl.owner
                if (
                    ctrl.namespace == namespace
                    and owner is not None
                    and (owner.kind, owner.name) == (kind.value, name)
                ):
                    doomed.append(ctrl)
                    del self._controllers[key]
            del self._controllers[(kind, namespace, name)]
            ids = {id(c) for c in doomed}
            for pod_key, owner_ctrl in list(self._owners.items()):
                if id(owner_ctrl) not in ids:
                    continue
                del self._owners[pod_key]
                pod = self._pods.get(pod_key)
                if pod is not None and pod.is_finished:
                    self._remove(pod_key)
                elif pod is not None and pod.deletion_timestamp is None:
                    self._terminate(pod_key, None, cause=None)

    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]:
        with self._api("list", "horizontalpodautoscalers", namespace or ""):
            return [
                self._hpa_status(key)
                for key in sorted(self._hpas)
                if namespace is None or key[0] == namespace
            ]

    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        with self._api("patch", "horizontalpodautoscalers", namespace, name):
            key = (namespace, name)
            if key not in self._hpas:
                raise NotFoundError(
                    f'horizontalpodautoscalers "{name}" not found in namespace {namespace}'
                )
            hpa, recommended = self._hpas[key]
            if not 1 <= min_replicas <= hpa.max_replicas:
                raise UserError(
                    f"minReplicas must be 1-{hpa.max_replicas} (maxReplicas), got {min_replicas}"
                )
            self._hpas[key] = (replace(hpa, min_replicas=min_replicas), recommended)
            self._hpa_sync_after(0.0, key)
            return self._hpa_status(key)

    def add_hpa(self, hpa: HorizontalPodAutoscaler, recommended: int | None = None) -> None:
        """An HPA whose metrics recommend `recommended` replicas (default: the target's count
        now). Like the real controller, it sets its target to that, within minReplicas and
        maxReplicas, after any change: a replica count set behind its back does not last."""
        with self._locked():
            target = self._controller(WorkloadKind(hpa.target_kind), hpa.namespace, hpa.target_name)
            key = (hpa.namespace, hpa.name)
            self._hpas[key] = (hpa, target.replicas if recommended is None else recommended)
            self._hpa_sync_after(0.0, key)

    def _hpa_sync_after(self, delay: float, key: tuple[str, str]) -> None:
        self._at(self._clock.now() + delay, lambda: self._locked_call(self._hpa_sync, key))

    def _hpa_desired(self, key: tuple[str, str]) -> int:
        hpa, recommended = self._hpas[key]
        return min(max(recommended, hpa.min_replicas), hpa.max_replicas)

    def _hpa_sync(self, key: tuple[str, str]) -> None:
        if key not in self._hpas:
            return
        hpa, _ = self._hpas[key]
        ctrl = self._controllers.get(
            (WorkloadKind(hpa.target_kind), hpa.namespace, hpa.target_name)
        )
        desired = self._hpa_desired(key)
        if ctrl is not None and ctrl.replicas != desired:
            ctrl.scale(desired)
            self._apply(ctrl.sync(self._view()))

    def _hpa_status(self, key: tuple[str, str]) -> HorizontalPodAutoscaler:
        hpa, _ = self._hpas[key]
        ctrl = self._controllers.get(
            (WorkloadKind(hpa.target_kind), hpa.namespace, hpa.target_name)
        )
        current = ctrl.replicas if ctrl is not None else 0
        return replace(hpa, current_replicas=current, desired_replicas=self._hpa_desired(key))
