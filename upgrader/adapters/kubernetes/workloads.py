"""Workloads (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs): list, read, scale,
restart.
"""

from __future__ import annotations

from typing import Any, cast

from upgrader.adapters.kubernetes import encode, wire
from upgrader.adapters.kubernetes.base import RESTARTED_AT_ANNOTATION, ClusterApi
from upgrader.core.errors import UserError
from upgrader.core.kube import Workload, WorkloadKind


class WorkloadCalls(ClusterApi):
    def list_workloads(
        self, kind: WorkloadKind | None = None, namespace: str | None = None
    ) -> list[Workload]:
        kinds = [kind] if kind is not None else list(self._workloads)
        found: list[Workload] = []
        for each in kinds:
            api, decode = self._workloads[each], wire.WORKLOADS[each]
            if self.informers is not None:
                index = ("namespace", namespace) if namespace is not None else None
                cached = self.informers.select(api.resource, index=index)
                if cached is not None:
                    found += cached
                    continue
            if namespace is None:
                found += self._list_decoded(api.resource, api.list_all_namespaces, decode)
            else:
                found += self._list_decoded(
                    api.resource, api.list_namespaced, decode, namespace=namespace
                )
        return found

    def get_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        api = self._workloads[kind]
        if self.informers is not None:
            target = f"{api.resource} {namespace}/{name}"
            cached = self.informers.get(api.resource, f"{namespace}/{name}", target)
            if cached is not None:
                return cast(Workload, cached)
        with self._errors("get", api.resource, f"{namespace}/{name}"):
            return api.decode(self._json(api.read, name, namespace))

    def _patch_workload(
        self, kind: WorkloadKind, namespace: str, name: str, body: dict[str, Any]
    ) -> Workload:
        api = self._workloads[kind]
        with self._errors("patch", api.resource, f"{namespace}/{name}"):
            workload = api.decode(self._json(api.patch, name, namespace, body))
        if self.informers is not None:
            self.informers.wrote(api.resource, f"{namespace}/{name}", workload)
        return workload

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload:
        if kind is WorkloadKind.DAEMON_SET:
            raise UserError(f"DaemonSet {namespace}/{name} runs one pod per node; it has no scale")
        field = "parallelism" if kind is WorkloadKind.JOB else "replicas"
        return self._patch_workload(kind, namespace, name, {"spec": {field: replicas}})

    def restart_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        if kind not in (
            WorkloadKind.DEPLOYMENT,
            WorkloadKind.STATEFUL_SET,
            WorkloadKind.DAEMON_SET,
        ):
            # A ReplicaSet or Job does not replace running pods when its template changes.
            raise UserError(f"{kind.value} {namespace}/{name} cannot be restarted by a rollout")
        # Microseconds, unlike kubectl's seconds: two restarts in one second still differ.
        stamp = encode.micro_timestamp(self.clock.now())
        body = {
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}
        }
        return self._patch_workload(kind, namespace, name, body)
