"""The `Cluster` port on a real Kubernetes API server, through the official Python client.

`KubernetesCluster` is put together from one class per group of calls, each in its own module:
`nodes`, `pods`, `workloads`, `inventory` (cluster-wide reads for the checks), `traffic`,
`state` (leases, config maps) and `karpenter`, on `base` (the client, the API classes, lists by
path, error translation from `api_errors`). Here: how it is built (kubeconfig, in-cluster,
server-side dry run) and `watching()`, the informers a drain reads from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException

from upgrader.adapters.kubernetes import informer, raw, wire
from upgrader.adapters.kubernetes.api_errors import KubeconfigError, translate_api_exception
from upgrader.adapters.kubernetes.base import (
    _PDB_PATH,
    _PDBS,
    RESTARTED_AT_ANNOTATION,
    ClusterApi,
    _key,
    _name,
    _namespace,
    _namespaced_name,
    _ServerDryRunApiClient,
)
from upgrader.adapters.kubernetes.inventory import InventoryCalls
from upgrader.adapters.kubernetes.karpenter import KarpenterCalls
from upgrader.adapters.kubernetes.nodes import NodeCalls
from upgrader.adapters.kubernetes.pages import (
    DEFAULT_PAGE_SIZE,
    ListPage,
    list_all,
    list_decoded,
    list_decoded_at,
)
from upgrader.adapters.kubernetes.pods import PodCalls
from upgrader.adapters.kubernetes.state import StateCalls
from upgrader.adapters.kubernetes.traffic import TrafficCalls
from upgrader.adapters.kubernetes.workloads import WorkloadCalls

if TYPE_CHECKING:
    from upgrader.core.ports import Clock, Cluster

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "RESTARTED_AT_ANNOTATION",
    "KubeconfigError",
    "KubernetesCluster",
    "ListPage",
    "list_all",
    "list_decoded",
    "list_decoded_at",
    "translate_api_exception",
]


class KubernetesCluster(
    NodeCalls,
    PodCalls,
    WorkloadCalls,
    InventoryCalls,
    TrafficCalls,
    StateCalls,
    KarpenterCalls,
    ClusterApi,
):
    """`Cluster` over an `ApiClient`.

    Build it with `KubernetesCluster.from_kubeconfig(path, context)` (None: $KUBECONFIG or
    ~/.kube/config, current context), `KubernetesCluster.in_cluster()` inside a pod, or
    `KubernetesCluster(api_client)` with a client configured by hand (the sandbox, tests).
    `clock` stamps restarts and taints, so the sandbox's virtual time shows in them.
    """

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | None = None,
        context: str | None = None,
        *,
        clock: Clock | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> KubernetesCluster:
        # The client reads $KUBECONFIG once, when it is imported; read it now instead.
        path = path or os.environ.get("KUBECONFIG") or None
        try:
            # persist_config=False: eksup never writes refreshed tokens back to the file.
            api_client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, persist_config=False
            )
        except (ConfigException, OSError) as e:
            where = path or "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
            with_context = f" (context {context!r})" if context else ""
            raise KubeconfigError(f"cannot use {where}{with_context}: {e}") from e
        return cls(api_client, clock=clock, page_size=page_size)

    def server_dry_run(self) -> KubernetesCluster:
        """A twin whose writes the API server checks (authorization, validation, admission
        webhooks) and then drops: every POST, PUT, PATCH and DELETE carries `dryRun=All`.
        `eksup execute --dry-run` sends each change it would make through it."""
        return KubernetesCluster(
            _ServerDryRunApiClient(self.api_client.configuration),
            clock=self.clock,
            page_size=self.page_size,
        )

    @classmethod
    def in_cluster(
        cls, *, clock: Clock | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> KubernetesCluster:
        configuration = Configuration()
        try:
            kube_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except ConfigException as e:
            raise KubeconfigError(f"not running in a pod with a service account: {e}") from e
        return cls(ApiClient(configuration), clock=clock, page_size=page_size)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Reads of nodes, pods, budgets and workloads from informers (`kubernetes_informer`)
        until the block ends; a nested call shares the outer one's."""
        if self.informers is not None:
            yield
            return
        sources = {
            informer.NODES: informer.Source("nodes", self._raw("/api/v1/nodes"), wire.node, _name),
            # Followed per node (`informer.pods_on`): this is the call each node's informer
            # makes, with its field selector, on connections of its own (`_watch_client`).
            informer.PODS: informer.Source(
                "pods", raw.RawList(self._watch_client(), "/api/v1/pods"), wire.pod, _key
            ),
            _PDBS: informer.Source(
                _PDBS,
                self._raw(_PDB_PATH),
                wire.pod_disruption_budget,
                _key,
                {"namespace": _namespace},
            ),
        }
        for kind, api in self._workloads.items():
            sources[api.resource] = informer.Source(
                api.resource,
                api.list_all_namespaces,
                wire.WORKLOADS[kind],
                _namespaced_name,
                {"namespace": _namespace},
            )
        self.informers = informer.Informers(
            sources, self._errors, list_decoded_at, page_size=self.page_size
        )
        try:
            yield
        finally:
            self.informers.close()
            self.informers = None


if TYPE_CHECKING:

    def _implements_port(cluster: KubernetesCluster) -> Cluster:
        return cluster  # mypy proves KubernetesCluster satisfies the port
