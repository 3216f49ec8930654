"""The fake cluster's Eviction API and pod deletion.

An eviction asks the PDBs that count the pod (`eviction_rules` decides, as the API server's
eviction handler does); a deletion asks none. Both then delete the pod gracefully.
"""

from __future__ import annotations

from upgrader.core.errors import EvictionBlockedError, MultiplePdbsError, NamespaceTerminatingError
from upgrader.drain.eviction_rules import Verdict, can_ignore_pdb, decide_eviction
from upgrader.sandbox.cluster.disruption import eviction_checks
from upgrader.sandbox.cluster.pods import Pods


class EvictionApi(Pods):
    """pods/eviction and pod deletion."""

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        with self._api("create", "pods/eviction", namespace, name):
            # NamespaceLifecycle admission answers before the eviction handler looks at the pod.
            if namespace in self._terminating_namespaces:
                raise NamespaceTerminatingError(
                    f'pods "{name}" is forbidden: unable to create new content in namespace '
                    f"{namespace} because it is being terminated"
                )
            pod = self._pod(namespace, name)
            budgets = []
            if not can_ignore_pdb(pod):
                budgets = [b for b in self._covering(pod) if eviction_checks(b.spec, pod)]
            statuses = [self._status(b) for b in budgets]
            verdict = decide_eviction(pod, statuses)
            if verdict is Verdict.MULTIPLE_PDBS:
                raise MultiplePdbsError(
                    "This pod has more than one PodDisruptionBudget, which the eviction "
                    "subresource does not support.",
                    tuple(sorted(b.spec.name for b in budgets)),
                )
            if verdict is Verdict.BLOCKED:
                status = statuses[0]
                self._counters.evictions_refused += 1
                refused = self._counters.evictions_refused_by_pdb
                refused[status.key] = refused.get(status.key, 0) + 1
                raise EvictionBlockedError(
                    "Cannot evict pod as it would violate the pod's disruption budget. The "
                    f"disruption budget {status.name} needs {status.desired_healthy} healthy "
                    f"pods and has {status.current_healthy} currently",
                    (status.name,),
                    retry_after=None,  # the API sends no Retry-After for an exhausted budget
                )
            if verdict is Verdict.CONSUME:
                budgets[0].disrupted[pod.name] = self._clock.now()
            self._counters.evictions += 1
            self._terminate(pod.key, grace_period_seconds, cause="eviction")

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        with self._api("delete", "pods", namespace, name):
            pod = self._pod(namespace, name)
            self._counters.deletions += 1
            self._terminate(pod.key, grace_period_seconds, cause="delete")

    def mark_namespace_terminating(self, namespace: str) -> None:
        """From now on evictions in the namespace are refused with 403."""
        with self._locked():
            self._terminating_namespaces.add(namespace)
