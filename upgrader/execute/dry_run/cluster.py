"""`Cluster` in a dry run: Kubernetes reads pass through, changes recorded and overlaid."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace

from upgrader.core.errors import ConflictError, EksupError, NotFoundError, TemporaryError
from upgrader.core.kube import (
    AmiSelectorTerm,
    ConfigMap,
    DeprecatedApiRequest,
    HelmRelease,
    HorizontalPodAutoscaler,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    Lease,
    Node,
    NodeClaim,
    NodeClass,
    NodePool,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    Service,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.core.ports import Cluster
from upgrader.execute.dry_run.record import DRY_RUN_UPDATE_PREFIX, Recorder, ServerRefusedError


class DryRunCluster:
    """`Cluster`: reads through, changes recorded (as kubectl would name them).

    With a `validator` (the real cluster's server-dry-run twin), each change is also sent to the
    API server with dryRun=All: it checks authorization, validation and admission webhooks and
    keeps nothing, so a dry run finds the RBAC rule or webhook the real run would hit. Objects
    only the dry run's overlay knows (a node group created an hop earlier) answer 404: no
    verdict, and neither is a busy server's 409 or 429."""

    def __init__(
        self,
        inner: Cluster,
        recorder: Recorder,
        validator: Cluster | None = None,
        *,
        settle: bool = False,
    ) -> None:
        self.inner = inner
        self.recorder = recorder
        self.validator = validator
        # A rollout's dry run runs its waits: with `settle` a scaled workload reads as its
        # controller would leave it (every pod Ready; at 0, its pods gone). The upgrade's dry
        # run reads each wait once and reports it instead.
        self.settle = settle
        self._emptied: set[tuple[str, str]] = set()  # (namespace, selector) scaled to 0
        self._replicas: dict[tuple[WorkloadKind, str, str], int] = {}
        self._ami_terms: dict[str, tuple[AmiSelectorTerm, ...]] = {}
        self._routes: dict[tuple[str, str], HTTPRoute] = {}

    def _record(self, action: str, **params: object) -> None:
        self.recorder.record("kubernetes", action, **params)

    def _check(self, action: str, send: Callable[[Cluster], object]) -> None:
        if self.validator is None:
            return
        try:
            send(self.validator)
        except (NotFoundError, TemporaryError):
            return
        except EksupError as error:
            raise ServerRefusedError(f"the API server would refuse {action}: {error}") from None

    def _scaled(self, workload: Workload) -> Workload:
        replicas = self._replicas.get((workload.kind, workload.namespace, workload.name))
        if replicas is None:
            return workload
        if self.settle:
            return replace(
                workload, replicas=replicas, ready_replicas=replicas, available_replicas=replicas
            )
        return replace(workload, replicas=replicas)

    # reads
    def server_version(self) -> str:
        return self.inner.server_version()

    def watching(self) -> AbstractContextManager[None]:
        return self.inner.watching()

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        return self.inner.list_nodes(label_selector)

    def get_node(self, name: str) -> Node:
        return self.inner.get_node(name)

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        if self.settle and (namespace, label_selector) in self._emptied:
            return []
        return self.inner.list_pods(namespace, node_name, label_selector)

    def get_pod(self, namespace: str, name: str) -> Pod:
        return self.inner.get_pod(namespace, name)

    def list_workloads(
        self, kind: WorkloadKind | None = None, namespace: str | None = None
    ) -> list[Workload]:
        return [self._scaled(w) for w in self.inner.list_workloads(kind, namespace)]

    def get_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        return self._scaled(self.inner.get_workload(kind, namespace, name))

    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        return self.inner.list_pdbs(namespace)

    def list_services(self, namespace: str | None = None) -> list[Service]:
        return self.inner.list_services(namespace)

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        return self.inner.list_persistent_volumes()

    def get_service(self, namespace: str, name: str) -> Service:
        return self.inner.get_service(namespace, name)

    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]:
        return self.inner.list_hpas(namespace)

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        return self.inner.deprecated_api_requests()

    def helm_releases(self) -> list[HelmRelease]:
        return self.inner.helm_releases()

    def get_ingress(self, namespace: str, name: str) -> Ingress:
        return self.inner.get_ingress(namespace, name)

    def get_lease(self, namespace: str, name: str) -> Lease:
        return self.inner.get_lease(namespace, name)

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        return self.inner.get_config_map(namespace, name)

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        return self._routes.get((namespace, name)) or self.inner.get_http_route(namespace, name)

    # changes
    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        self._record("cordon" if unschedulable else "uncordon", node=name)
        self._check(f"cordon {name}", lambda v: v.set_unschedulable(name, unschedulable))
        return replace(self.inner.get_node(name), unschedulable=unschedulable)

    def add_taint(self, name: str, taint: Taint) -> Node:
        self._record("taint", node=name, taint=str(taint))
        self._check(f"taint {name}", lambda v: v.add_taint(name, taint))
        node = self.inner.get_node(name)
        return replace(node, taints=(*node.taints, taint))

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node:
        self._record("untaint", node=name, taint=f"{key}:{effect.value}")
        self._check(f"untaint {name}", lambda v: v.remove_taint(name, key, effect))
        node = self.inner.get_node(name)
        kept = tuple(t for t in node.taints if (t.key, t.effect) != (key, effect))
        return replace(node, taints=kept)

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        self._record("label", node=name, labels=",".join(f"{k}={v}" for k, v in labels.items()))
        self._check(f"label {name}", lambda v: v.label_node(name, labels))
        return self.inner.get_node(name)

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        self._record("evict", pod=f"{namespace}/{name}", grace=grace_period_seconds)

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        self._record("delete", pod=f"{namespace}/{name}", grace=grace_period_seconds)
        self._check(
            f"delete pod {namespace}/{name}",
            lambda v: v.delete_pod(namespace, name, grace_period_seconds),
        )

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload:
        self._record("scale", workload=f"{kind.value}/{namespace}/{name}", replicas=replicas)
        self._check(
            f"scale {kind.value} {namespace}/{name}",
            lambda v: v.scale_workload(kind, namespace, name, replicas),
        )
        self._replicas[(kind, namespace, name)] = replicas
        workload = self.get_workload(kind, namespace, name)
        emptied = (namespace, str(workload.selector))
        if replicas == 0:
            self._emptied.add(emptied)
        else:
            self._emptied.discard(emptied)
        return workload

    def restart_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        self._record("rollout-restart", workload=f"{kind.value}/{namespace}/{name}")
        self._check(
            f"restart {kind.value} {namespace}/{name}",
            lambda v: v.restart_workload(kind, namespace, name),
        )
        return self.inner.get_workload(kind, namespace, name)

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service:
        self._record(
            "patch-service",
            service=f"{namespace}/{name}",
            selector=",".join(f"{k}={v}" for k, v in selector.items()),
        )
        self._check(
            f"patch service {namespace}/{name}",
            lambda v: v.patch_service_selector(namespace, name, selector),
        )
        return replace(self.inner.get_service(namespace, name), selector=dict(selector))

    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        self._record("patch-hpa", hpa=f"{namespace}/{name}", minReplicas=str(min_replicas))
        self._check(
            f"patch hpa {namespace}/{name}",
            lambda v: v.set_hpa_min_replicas(namespace, name, min_replicas),
        )
        found = [h for h in self.inner.list_hpas(namespace) if h.name == name]
        if not found:
            raise NotFoundError(f"horizontalpodautoscaler {namespace}/{name}")
        return replace(found[0], min_replicas=min_replicas)

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        self._record(
            "annotate-ingress",
            ingress=f"{namespace}/{name}",
            annotations=" ".join(
                f"{k}-" if v is None else f"{k}={v}" for k, v in annotations.items()
            ),
        )
        self._check(
            f"annotate ingress {namespace}/{name}",
            lambda v: v.patch_ingress_annotations(namespace, name, annotations),
        )
        ingress = self.inner.get_ingress(namespace, name)
        merged = {k: v for k, v in ingress.annotations.items() if k not in annotations}
        merged.update({k: v for k, v in annotations.items() if v is not None})
        return replace(ingress, annotations=merged)

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        self._record("replace-httproute-rules", httproute=f"{namespace}/{name}", rules=len(rules))
        current = self.get_http_route(namespace, name)
        if resource_version != current.resource_version:
            raise ConflictError(f"HTTPRoute {namespace}/{name} moved since it was read")
        # Read back as its controller would accept it, so a dry run can go on past the change.
        generation = current.generation + 1
        route = replace(
            current,
            rules=tuple(rules),
            generation=generation,
            resource_version=f"{DRY_RUN_UPDATE_PREFIX}{generation}",
            parents=tuple(replace(p, observed_generation=generation) for p in current.parents),
        )
        self._routes[(namespace, name)] = route
        return route

    def create_lease(self, lease: Lease) -> Lease:
        self._record("create-lease", lease=f"{lease.namespace}/{lease.name}")
        return lease

    def update_lease(self, lease: Lease) -> Lease:
        self._record("update-lease", lease=f"{lease.namespace}/{lease.name}")
        return lease

    def delete_lease(self, namespace: str, name: str) -> None:
        self._record("delete-lease", lease=f"{namespace}/{name}")

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        self._record("apply-configmap", configmap=f"{config_map.namespace}/{config_map.name}")
        return config_map

    # Karpenter: a patched node class reads with its new terms (Karpenter would not have
    # resolved them yet, so `amis` stays as it is)
    def list_node_pools(self) -> list[NodePool]:
        return self.inner.list_node_pools()

    def list_node_classes(self) -> list[NodeClass]:
        return [self._patched(c) for c in self.inner.list_node_classes()]

    def get_node_class(self, name: str) -> NodeClass:
        return self._patched(self.inner.get_node_class(name))

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        return self.inner.list_node_claims(node_pool)

    def patch_node_class_ami_selector(
        self, name: str, terms: Sequence[AmiSelectorTerm]
    ) -> NodeClass:
        self._record(
            "patch-ec2nodeclass",
            ec2nodeclass=name,
            amiSelectorTerms=",".join(str(t.to_json()) for t in terms),
        )
        self._check(
            f"patch ec2nodeclass {name}",
            lambda v: v.patch_node_class_ami_selector(name, terms),
        )
        self._ami_terms[name] = tuple(terms)
        return self.get_node_class(name)

    def _patched(self, node_class: NodeClass) -> NodeClass:
        terms = self._ami_terms.get(node_class.name)
        return node_class if terms is None else replace(node_class, ami_selector_terms=terms)
