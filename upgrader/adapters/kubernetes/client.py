"""The `Cluster` port on a real Kubernetes API server, through the official Python client.

Everything the client can raise is translated here, once, into `upgrader.core.errors`: the Eviction
API's refusals become the typed errors the drain schedules around (429 with the PDB's name and
Retry-After, 500 for overlapping PDBs, 403 for a terminating namespace), and a dropped connection
names the server. Lists page with `limit`/`continue` so a 10 000-pod cluster never arrives as one
response. Read-modify-write operations (taints, selectors, leases, config maps) send the
resourceVersion they read, so a concurrent writer yields ConflictError instead of a lost update.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import gc
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration, VersionApi
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from upgrader.adapters.clock import SystemClock
from upgrader.adapters.kubernetes import convert, gateway, informer, karpenter, raw, usage, wire
from upgrader.core.errors import (
    ConflictError,
    EksupError,
    EvictionBlockedError,
    EvictionDeniedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    ServiceUnavailableError,
    ThrottledError,
    UserError,
)
from upgrader.core.kube import (
    DRIFTED,
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    ConfigMap,
    DeprecatedApiRequest,
    DisruptionBudget,
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

# Model and API classes are imported where they are used: importing them costs a second of CPU
# (their pydantic models), which commands that only list (decoded raw, `wire`) never pay.
if TYPE_CHECKING:
    from kubernetes.client import (
        AppsV1Api,
        AutoscalingV2Api,
        BatchV1Api,
        CoordinationV1Api,
        CoreV1Api,
        CustomObjectsApi,
        NetworkingV1Api,
        PolicyV1Api,
        V1ListMeta,
        V1Node,
    )

    from upgrader.core.ports import Clock, Cluster

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
KARPENTER_GROUP = "karpenter.sh"
KARPENTER_AWS_GROUP = "karpenter.k8s.aws"
# kubectl's page size: big enough that most clusters answer in one page.
DEFAULT_PAGE_SIZE = 500
# Read-modify-write attempts before a ConflictError reaches the caller.
_CONFLICT_ATTEMPTS = 3

ItemT = TypeVar("ItemT")
ItemT_co = TypeVar("ItemT_co", covariant=True)
ModelT = TypeVar("ModelT")


class KubeconfigError(UserError):
    """No usable kubeconfig: missing file, unknown context, or no in-cluster service account."""


class ListPage(Protocol[ItemT_co]):
    """One page of a Kubernetes list response (V1PodList and friends)."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def metadata(self) -> V1ListMeta | None: ...


def list_all(
    list_call: Callable[..., ListPage[ItemT]], *, page_size: int = DEFAULT_PAGE_SIZE, **query: Any
) -> list[ItemT]:
    """Every item of a list call, following `continue` tokens page by page.

    A continue token expires after a few minutes (410 Gone); the listing then starts over once,
    much as client-go's pager falls back to a full list, rather than returning part of one.
    """
    for attempt in (1, 2):
        items: list[ItemT] = []
        token: str | None = None
        try:
            while True:
                page = list_call(limit=page_size, _continue=token, **query)
                items.extend(page.items)
                next_token = page.metadata.var_continue if page.metadata is not None else None
                if not next_token:
                    return items
                if next_token == token:
                    raise ServiceUnavailableError(
                        f"the API server repeated continue token {token!r}; refusing to loop"
                    )
                token = next_token
        except ApiException as e:
            if e.status != 410 or token is None or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def list_decoded(
    list_call: Callable[..., Any],
    decode: Callable[[Mapping[str, Any]], ItemT],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    **query: Any,
) -> list[ItemT]:
    """Like `list_all`, but each page is read as raw JSON and decoded straight into eksup's
    values (`kubernetes_wire`): no client model objects, one page of dicts alive at a time."""
    return list_decoded_at(list_call, decode, page_size=page_size, **query)[0]


def list_decoded_at(
    list_call: Callable[..., Any],
    decode: Callable[[Mapping[str, Any]], ItemT],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    **query: Any,
) -> tuple[list[ItemT], str]:
    """`list_decoded` and the list's resourceVersion, where a watch of it starts."""
    for attempt in (1, 2):
        items: list[ItemT] = []
        token: str | None = None
        try:
            with _collector_paused():
                while True:
                    response = list_call(
                        limit=page_size, _continue=token, _preload_content=False, **query
                    )
                    page = json.loads(response.data)
                    items.extend(decode(item) for item in page.get("items") or ())
                    meta = page.get("metadata") or {}
                    next_token = meta.get("continue")
                    if not next_token:
                        return items, str(meta.get("resourceVersion") or "")
                    if next_token == token:
                        raise ServiceUnavailableError(
                            f"the API server repeated continue token {token!r}; refusing to loop"
                        )
                    token = next_token
        except ApiException as e:
            if e.status != 410 or token is None or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk list is decoded.

    Decoded pages are trees that reference counting frees; but every few thousand allocations
    the collector walks the ever larger list of results again, which made decoding 150,000
    pods several times slower than the decoding itself (measured: `make bench`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# errors ----------------------------------------------------------------------------------------


def _status_body(error: ApiException) -> dict[str, Any]:
    """The Status object the API server sent, or {} when the body is not one."""
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _header(error: ApiException, name: str) -> str | None:
    headers = error.headers or {}
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; urllib3's HTTPHeaderDict is not
        value = next((v for k, v in headers.items() if str(k).lower() == name.lower()), None)
    return str(value) if value is not None else None


def _retry_after(error: ApiException) -> float | None:
    value = _header(error, "Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the API server never sends one


def translate_api_exception(
    error: ApiException, verb: str, resource: str, name: str = ""
) -> EksupError:
    """The `upgrader.core.errors` value for an API error on `verb resource/name`."""
    status = int(error.status or 0)
    body = _status_body(error)
    causes = [c for c in (body.get("details") or {}).get("causes") or () if isinstance(c, dict)]
    message = str(body.get("message") or error.reason or f"HTTP {status}")
    target = f"{resource} {name}".strip()
    what = f"{verb} {target}: {message}"
    action = f"{verb} {resource}"
    if status == 404:
        return NotFoundError(f"{target} not found: {message}")
    if status == 429:
        if resource == "pods/eviction":
            pdbs = convert.pdb_names(message, *(str(c.get("message", "")) for c in causes))
            return EvictionBlockedError(what, pdbs, _retry_after(error))
        return ThrottledError(what, _retry_after(error))
    if status == 500 and "more than one PodDisruptionBudget" in message:
        return MultiplePdbsError(what, convert.pdb_names(message))
    if status == 403 and (
        any(c.get("type") == "NamespaceTerminating" for c in causes)
        or "being terminated" in message
    ):
        return NamespaceTerminatingError(what, _retry_after(error))
    if status == 403 and resource == "pods/eviction" and "admission webhook" in message:
        return EvictionDeniedError(what)
    if status == 409:
        return ConflictError(what, _retry_after(error))
    if status in (401, 403):
        return PermissionDeniedError(f"not allowed to {what}", action=action)
    if status >= 500:
        return ServiceUnavailableError(what, _retry_after(error))
    return PermanentError(f"{what} (HTTP {status})")


# the adapter -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WorkloadApi(Generic[ModelT]):
    """The calls and conversion for one workload kind."""

    resource: str
    list_all_namespaces: Callable[..., Any]  # raw: what `list_decoded` and watches call
    list_namespaced: Callable[..., Any]
    read: Callable[[str, str], ModelT]
    patch: Callable[[str, str, dict[str, Any]], ModelT]
    convert: Callable[[ModelT], Workload]


class _ServerDryRunApiClient(ApiClient):
    """Adds `dryRun=All` to every request that would change something (the generated client
    builds the URL before this point, so one override covers every API group)."""

    def call_api(  # type: ignore[no-untyped-def]
        self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None
    ):
        if method.upper() in _WRITES:
            url += ("&" if "?" in url else "?") + "dryRun=All"
        return super().call_api(method, url, header_params, body, post_params, _request_timeout)


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class KubernetesCluster:
    """`Cluster` over an `ApiClient`.

    Build it with `KubernetesCluster.from_kubeconfig(path, context)` (None: $KUBECONFIG or
    ~/.kube/config, current context), `KubernetesCluster.in_cluster()` inside a pod, or
    `KubernetesCluster(api_client)` with a client configured by hand (the sandbox, tests).
    `clock` stamps restarts and taints, so the sandbox's virtual time shows in them.
    """

    def __init__(
        self,
        api_client: ApiClient,
        *,
        clock: Clock | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.api_client = api_client
        self.clock: Clock = clock or SystemClock()
        self.page_size = page_size
        self.server = str(api_client.configuration.host)
        # The CA the kubeconfig trusts for that server (the client writes it to a file), as
        # base64 PEM like EKS's certificateAuthority.data; None without one (plain HTTP,
        # or insecure-skip-tls-verify).
        self.ca_data = _ca_data(api_client.configuration.ssl_ca_cert)
        self.informers: informer.Informers | None = None  # while `watching()` is open
        # Bulk reads go by path (`kubernetes_raw`); the generated API classes, costly to
        # import, are built on first use by the calls that need models.
        self._workloads: dict[WorkloadKind, _WorkloadApi[Any]] = {
            kind: _WorkloadApi(
                f"{plural}.{group}",
                raw.RawList(api_client, f"/apis/{group}/v1/{plural}"),
                raw.RawList(api_client, f"/apis/{group}/v1/namespaces/{{namespace}}/{plural}"),
                self._generated(api, f"read_namespaced_{singular}"),
                self._generated(api, f"patch_namespaced_{singular}"),
                conversion,
            )
            for kind, (group, plural, api, singular, conversion) in _WORKLOAD_CALLS.items()
        }

    def _generated(self, api: str, method: str) -> Callable[..., Any]:
        """A generated API class's method, the class imported on the first call."""

        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(getattr(self, api), method)(*args, **kwargs)

        return call

    @functools.cached_property
    def core(self) -> CoreV1Api:
        from kubernetes.client import CoreV1Api

        return CoreV1Api(self.api_client)

    @functools.cached_property
    def apps(self) -> AppsV1Api:
        from kubernetes.client import AppsV1Api

        return AppsV1Api(self.api_client)

    @functools.cached_property
    def batch(self) -> BatchV1Api:
        from kubernetes.client import BatchV1Api

        return BatchV1Api(self.api_client)

    @functools.cached_property
    def policy(self) -> PolicyV1Api:
        from kubernetes.client import PolicyV1Api

        return PolicyV1Api(self.api_client)

    @functools.cached_property
    def autoscaling(self) -> AutoscalingV2Api:
        from kubernetes.client import AutoscalingV2Api

        return AutoscalingV2Api(self.api_client)

    @functools.cached_property
    def coordination(self) -> CoordinationV1Api:
        from kubernetes.client import CoordinationV1Api

        return CoordinationV1Api(self.api_client)

    @functools.cached_property
    def custom(self) -> CustomObjectsApi:
        from kubernetes.client import CustomObjectsApi

        return CustomObjectsApi(self.api_client)

    @functools.cached_property
    def networking(self) -> NetworkingV1Api:
        from kubernetes.client import NetworkingV1Api

        return NetworkingV1Api(self.api_client)

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
    def _errors(self, verb: str, resource: str, name: str = "") -> Iterator[None]:
        try:
            yield
        except ApiException as e:
            raise translate_api_exception(e, verb, resource, name) from e
        except urllib3.exceptions.HTTPError as e:
            cause = e.reason if isinstance(e, urllib3.exceptions.MaxRetryError) else e
            raise ServiceUnavailableError(
                f"cannot reach the Kubernetes API server at {self.server} "
                f"({type(cause).__name__}); check the kubeconfig context and the network"
            ) from e
        except ConfigException as e:
            # Credentials are refreshed lazily: an exec plugin (aws eks get-token) fails here.
            raise KubeconfigError(f"cannot authenticate to {self.server}: {e}") from e

    def _list(
        self, verb_resource: str, list_call: Callable[..., ListPage[ItemT]], **query: Any
    ) -> list[ItemT]:
        with self._errors("list", verb_resource):
            return list_all(list_call, page_size=self.page_size, **query)

    def _list_decoded(
        self,
        verb_resource: str,
        list_call: Callable[..., Any],
        decode: Callable[[Mapping[str, Any]], ItemT],
        **query: Any,
    ) -> list[ItemT]:
        with self._errors("list", verb_resource):
            return list_decoded(list_call, decode, page_size=self.page_size, **query)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Reads of nodes, pods, budgets and workloads from informers (`kubernetes_informer`)
        until the block ends; a nested call shares the outer one's."""
        if self.informers is not None:
            yield
            return
        sources = {
            informer.NODES: informer.Source("nodes", self._raw("/api/v1/nodes"), wire.node, _name),
            informer.PODS: informer.Source(
                "pods",
                self._raw("/api/v1/pods"),
                wire.pod,
                _key,
                {"node": lambda p: p.node_name or "", "namespace": _namespace},
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

    def _raw(self, path: str) -> raw.RawList:
        return raw.RawList(self.api_client, path)

    def server_version(self) -> str:
        with self._errors("get", "version"):
            return VersionApi(self.api_client).get_code().git_version

    # nodes

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        if self.informers is not None:
            cached = self.informers.select("nodes", label_selector=label_selector)
            if cached is not None:
                return cached
        query = {"label_selector": label_selector} if label_selector else {}
        return self._list_decoded("nodes", self._raw("/api/v1/nodes"), wire.node, **query)

    def get_node(self, name: str) -> Node:
        return convert.node(self._read_node(name))

    def _read_node(self, name: str) -> V1Node:
        with self._errors("get", "nodes", name):
            return self.core.read_node(name)

    def _patch_node(self, name: str, body: dict[str, Any]) -> Node:
        with self._errors("patch", "nodes", name):
            node = convert.node(self.core.patch_node(name, body))
        if self.informers is not None:
            self.informers.wrote(informer.NODES, name, node)
        return node

    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        # null, not false, on uncordon: as kubectl sends it, leaving the field unset.
        return self._patch_node(name, {"spec": {"unschedulable": True if unschedulable else None}})

    def add_taint(self, name: str, taint: Taint) -> Node:
        from kubernetes.client import V1Taint

        def change(taints: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            same = [t for t in taints if (t.get("key"), t.get("effect")) == _taint_key(taint)]
            if same and same[0].get("value", "") == taint.value:
                return None  # already there: nothing to write
            kept = [t for t in taints if (t.get("key"), t.get("effect")) != _taint_key(taint)]
            # timeAdded on NoExecute, as kubectl sets it: tolerationSeconds count from here.
            added = V1Taint(
                key=taint.key,
                effect=taint.effect.value,
                value=taint.value or None,
                time_added=(
                    convert.from_epoch(self.clock.now())
                    if taint.effect is TaintEffect.NO_EXECUTE
                    else None
                ),
            )
            return [*kept, convert.taint_to_wire(added)]

        return self._update_taints(name, change)

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node:
        def change(taints: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            kept = [t for t in taints if (t.get("key"), t.get("effect")) != (key, effect.value)]
            return kept if len(kept) != len(taints) else None  # absent: already done

        return self._update_taints(name, change)

    def _update_taints(
        self, name: str, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]
    ) -> Node:
        """Read the node, change its taint list, and write the whole list back (a strategic
        merge patch replaces `taints` whole), guarded by the resourceVersion that was read."""
        from kubernetes.client import V1ObjectMeta

        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            current = self._read_node(name)
            taints = [
                convert.taint_to_wire(t)
                for t in (current.spec.taints if current.spec is not None else None) or ()
            ]
            changed = change(taints)
            if changed is None:
                return convert.node(current)
            meta = current.metadata if current.metadata is not None else V1ObjectMeta()
            try:
                return self._patch_node(
                    name,
                    {
                        "metadata": {"resourceVersion": meta.resource_version},
                        "spec": {"taints": changed},
                    },
                )
            except ConflictError:
                if attempt == _CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        return self._patch_node(name, {"metadata": {"labels": dict(labels)}})

    # pods

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        if self.informers is not None:
            index = ("node", node_name or "") if node_name is not None else None
            if index is None and namespace is not None:
                index = ("namespace", namespace)
            cached = self.informers.select("pods", index=index, label_selector=label_selector)
            if cached is not None:
                return [p for p in cached if namespace is None or p.namespace == namespace]
        query: dict[str, Any] = {}
        if node_name is not None:
            query["field_selector"] = f"spec.nodeName={node_name}"
        if label_selector:
            query["label_selector"] = label_selector
        if namespace is None:
            return self._list_decoded("pods", self._raw("/api/v1/pods"), wire.pod, **query)
        return self._list_decoded(
            "pods", self._raw(_NAMESPACED_PODS), wire.pod, namespace=namespace, **query
        )

    def get_pod(self, namespace: str, name: str) -> Pod:
        with self._errors("get", "pods", f"{namespace}/{name}"):
            return convert.pod(self.core.read_namespaced_pod(name, namespace))

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        from kubernetes.client import V1DeleteOptions, V1Eviction, V1ObjectMeta

        key = f"{namespace}/{name}"
        body = V1Eviction(
            metadata=V1ObjectMeta(name=name, namespace=namespace),
            delete_options=(
                V1DeleteOptions(grace_period_seconds=grace_period_seconds)
                if grace_period_seconds is not None
                else None
            ),
        )
        informers = self.informers
        before = informers.before_pod_change(key, eviction=True) if informers else {}
        with self._errors("create", "pods/eviction", key):
            self.core.create_namespaced_pod_eviction(name, namespace, body)
        if informers is not None:
            informers.changed(before)

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        key = f"{namespace}/{name}"
        informers = self.informers
        before = informers.before_pod_change(key, eviction=False) if informers else {}
        with self._errors("delete", "pods", key):
            self.core.delete_namespaced_pod(
                name, namespace, grace_period_seconds=grace_period_seconds
            )
        if informers is not None:
            informers.changed(before)

    # workloads

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
            return api.convert(api.read(name, namespace))

    def _patch_workload(
        self, kind: WorkloadKind, namespace: str, name: str, body: dict[str, Any]
    ) -> Workload:
        api = self._workloads[kind]
        with self._errors("patch", api.resource, f"{namespace}/{name}"):
            workload = api.convert(api.patch(name, namespace, body))
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
        stamp = convert.from_epoch(self.clock.now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}
        }
        return self._patch_workload(kind, namespace, name, body)

    # disruption budgets and services

    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        if self.informers is not None:
            index = ("namespace", namespace) if namespace is not None else None
            cached = self.informers.select(_PDBS, index=index)
            if cached is not None:
                return cached
        resource, decode = "poddisruptionbudgets.policy", wire.pod_disruption_budget
        if namespace is None:
            return self._list_decoded(resource, self._raw(_PDB_PATH), decode)
        return self._list_decoded(
            resource, self._raw(_NAMESPACED_PDBS), decode, namespace=namespace
        )

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        return self._list_decoded(
            "persistentvolumes", self.core.list_persistent_volume, wire.persistent_volume
        )

    def list_services(self, namespace: str | None = None) -> list[Service]:
        if namespace is None:
            return self._list_decoded("services", self._raw("/api/v1/services"), wire.service)
        return self._list_decoded(
            "services", self._raw(_NAMESPACED_SERVICES), wire.service, namespace=namespace
        )

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        with self._errors("get", "metrics"):
            method, url, headers, body, post = self.api_client.param_serialize(
                "GET", "/metrics", auth_settings=["BearerToken"]
            )
            response = self.api_client.call_api(method, url, headers, body, post)
            raw: bytes = response.read() or b""  # type: ignore[no-untyped-call]
        if response.status >= 400:
            raise translate_api_exception(
                ApiException(status=response.status, reason=response.reason), "get", "metrics"
            )
        return usage.parse_deprecated_api_metric(raw.decode("utf-8", "replace"))

    def helm_releases(self) -> list[HelmRelease]:
        secrets = self._list(
            "secrets",
            self.core.list_secret_for_all_namespaces,
            label_selector="owner=helm",
            field_selector="type=helm.sh/release.v1",
        )
        decoded = (
            usage.decode_helm_release(str((secret.data or {}).get("release", "")))
            for secret in secrets
        )
        return usage.deployed_releases(r for r in decoded if r is not None)

    def get_service(self, namespace: str, name: str) -> Service:
        with self._errors("get", "services", f"{namespace}/{name}"):
            return convert.service(self.core.read_namespaced_service(name, namespace))

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service:
        """Replace the selector exactly: a merge patch alone would keep old keys, so keys that
        go away are sent as null; the read resourceVersion guards against a concurrent edit."""
        from kubernetes.client import V1ObjectMeta

        target = f"{namespace}/{name}"
        with self._errors("get", "services", target):
            current = self.core.read_namespaced_service(name, namespace)
        old = (current.spec.selector if current.spec is not None else None) or {}
        patch: dict[str, str | None] = dict.fromkeys(old)
        patch.update(selector)
        meta = current.metadata if current.metadata is not None else V1ObjectMeta()
        body = {
            "metadata": {"resourceVersion": meta.resource_version},
            "spec": {"selector": patch},
        }
        with self._errors("patch", "services", target):
            return convert.service(self.core.patch_namespaced_service(name, namespace, body))

    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]:
        resource = "horizontalpodautoscalers.autoscaling"
        if namespace is None:
            found = self._list(
                resource, self.autoscaling.list_horizontal_pod_autoscaler_for_all_namespaces
            )
        else:
            found = self._list(
                resource,
                self.autoscaling.list_namespaced_horizontal_pod_autoscaler,
                namespace=namespace,
            )
        return [convert.horizontal_pod_autoscaler(h) for h in found]

    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        body = {"spec": {"minReplicas": min_replicas}}
        with self._errors("patch", "horizontalpodautoscalers.autoscaling", f"{namespace}/{name}"):
            return convert.horizontal_pod_autoscaler(
                self.autoscaling.patch_namespaced_horizontal_pod_autoscaler(name, namespace, body)
            )

    # ingresses

    def get_ingress(self, namespace: str, name: str) -> Ingress:
        with self._errors("get", "ingresses.networking.k8s.io", f"{namespace}/{name}"):
            return convert.ingress(self.networking.read_namespaced_ingress(name, namespace))

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        """A merge patch of these annotations only (None removes one): whatever else the
        Ingress carries, and whoever else edits it, is left alone."""
        body = {"metadata": {"annotations": dict(annotations)}}
        with self._errors("patch", "ingresses.networking.k8s.io", f"{namespace}/{name}"):
            return convert.ingress(self.networking.patch_namespaced_ingress(name, namespace, body))

    # Gateway API

    def _read_http_route(self, namespace: str, name: str) -> dict[str, Any]:
        with self._errors("get", f"{gateway.PLURAL}.{gateway.GROUP}", f"{namespace}/{name}"):
            found = self.custom.get_namespaced_custom_object(
                gateway.GROUP, gateway.VERSION, namespace, gateway.PLURAL, name
            )
        return cast("dict[str, Any]", found)

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        return gateway.http_route(self._read_http_route(namespace, name))

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        """GET the object, swap `spec.rules`, PUT it back with the caller's resourceVersion:
        the API server refuses it (409) when anyone changed the route in between."""
        target = f"{namespace}/{name}"
        if not resource_version:
            raise ConflictError(
                f"HTTPRoute {target}: no resource_version to compare; read it first"
            )
        current = self._read_http_route(namespace, name)
        current.setdefault("spec", {})["rules"] = gateway.rules_to_k8s(rules)
        current.setdefault("metadata", {})["resourceVersion"] = resource_version
        # The status is a subresource: a PUT of the main resource ignores it.
        current.pop("status", None)
        with self._errors("update", f"{gateway.PLURAL}.{gateway.GROUP}", target):
            replaced = self.custom.replace_namespaced_custom_object(
                gateway.GROUP, gateway.VERSION, namespace, gateway.PLURAL, name, current
            )
        return gateway.http_route(cast("dict[str, Any]", replaced))

    # coordination and state

    def get_lease(self, namespace: str, name: str) -> Lease:
        with self._errors("get", "leases.coordination.k8s.io", f"{namespace}/{name}"):
            return convert.lease(self.coordination.read_namespaced_lease(name, namespace))

    def create_lease(self, lease: Lease) -> Lease:
        # A create must not carry a resourceVersion; the server assigns the first one.
        body = convert.lease_to_k8s(dataclasses.replace(lease, resource_version=""))
        with self._errors(
            "create", "leases.coordination.k8s.io", f"{lease.namespace}/{lease.name}"
        ):
            return convert.lease(self.coordination.create_namespaced_lease(lease.namespace, body))

    def update_lease(self, lease: Lease) -> Lease:
        target = f"{lease.namespace}/{lease.name}"
        if not lease.resource_version:
            # An unversioned replace would overwrite whoever holds the lock.
            raise ConflictError(f"lease {target} has no resource_version to compare; read it first")
        with self._errors("update", "leases.coordination.k8s.io", target):
            return convert.lease(
                self.coordination.replace_namespaced_lease(
                    lease.name, lease.namespace, convert.lease_to_k8s(lease)
                )
            )

    def delete_lease(self, namespace: str, name: str) -> None:
        with self._errors("delete", "leases.coordination.k8s.io", f"{namespace}/{name}"):
            self.coordination.delete_namespaced_lease(name, namespace)

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        with self._errors("get", "configmaps", f"{namespace}/{name}"):
            return convert.config_map(self.core.read_namespaced_config_map(name, namespace))

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        """Create it, or replace its data (and only its data).

        With a `resource_version` the replace is a compare-and-swap: ConflictError when it
        moved. Without one, the latest version is replaced, retrying when another writer gets
        in between.
        """
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            if not config_map.resource_version:
                created = self._create_config_map(config_map)
                if created is not None:
                    return created
            try:
                return self._replace_config_map_data(config_map)
            except (ConflictError, NotFoundError):
                if config_map.resource_version or attempt == _CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_config_map(self, config_map: ConfigMap) -> ConfigMap | None:
        """The created ConfigMap, or None when one of that name exists."""
        body = convert.config_map_to_k8s(dataclasses.replace(config_map, resource_version=""))
        try:
            with self._errors("create", "configmaps", f"{config_map.namespace}/{config_map.name}"):
                return convert.config_map(
                    self.core.create_namespaced_config_map(config_map.namespace, body)
                )
        except ConflictError:
            return None

    def _replace_config_map_data(self, config_map: ConfigMap) -> ConfigMap:
        namespace, name = config_map.namespace, config_map.name
        target = f"{namespace}/{name}"
        with self._errors("get", "configmaps", target):
            current = self.core.read_namespaced_config_map(name, namespace)
        # Everything but the data stays as it is: labels, annotations, owners, binaryData.
        current.data = dict(config_map.data)
        if current.metadata is not None and config_map.resource_version:
            current.metadata.resource_version = config_map.resource_version
        with self._errors("update", "configmaps", target):
            return convert.config_map(
                self.core.replace_namespaced_config_map(name, namespace, current)
            )

    # Karpenter v1 custom resources (cluster-scoped)

    def _custom_list(self, group: str, plural: str, **query: Any) -> list[dict[str, Any]]:
        try:
            with self._errors("list", f"{plural}.{group}"):
                raw = self.custom.list_cluster_custom_object(group, "v1", plural, **query)
        except NotFoundError:
            return []  # the CRD is not installed: no Karpenter, nothing to list
        items = raw.get("items") if isinstance(raw, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]

    def list_node_pools(self) -> list[NodePool]:
        return [_node_pool(i) for i in self._custom_list(KARPENTER_GROUP, "nodepools")]

    def list_node_classes(self) -> list[NodeClass]:
        return [_node_class(i) for i in self._custom_list(KARPENTER_AWS_GROUP, "ec2nodeclasses")]

    def get_node_class(self, name: str) -> NodeClass:
        with self._errors("get", f"ec2nodeclasses.{KARPENTER_AWS_GROUP}", name):
            raw = self.custom.get_cluster_custom_object(
                KARPENTER_AWS_GROUP, "v1", "ec2nodeclasses", name
            )
        return _node_class(raw)

    def patch_node_class_ami_selector(
        self, name: str, terms: Sequence[AmiSelectorTerm]
    ) -> NodeClass:
        body = {"spec": {"amiSelectorTerms": [t.to_json() for t in terms]}}
        with self._errors("patch", f"ec2nodeclasses.{KARPENTER_AWS_GROUP}", name):
            raw = self.custom.patch_cluster_custom_object(
                KARPENTER_AWS_GROUP,
                "v1",
                "ec2nodeclasses",
                name,
                body,
                # A merge patch replaces the list whole; the client would send a JSON patch.
                _content_type="application/merge-patch+json",
            )
        return _node_class(raw)

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        query = {"label_selector": f"{KARPENTER_NODEPOOL_LABEL}={node_pool}"} if node_pool else {}
        return [_node_claim(i) for i in self._custom_list(KARPENTER_GROUP, "nodeclaims", **query)]


_PDBS = informer.PDBS
_PDB_PATH = "/apis/policy/v1/poddisruptionbudgets"
_NAMESPACED_PDBS = "/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
_NAMESPACED_PODS = "/api/v1/namespaces/{namespace}/pods"
_NAMESPACED_SERVICES = "/api/v1/namespaces/{namespace}/services"
# kind -> (API group, plural, generated API attribute, singular in its method names, conversion)
_WORKLOAD_CALLS: dict[WorkloadKind, tuple[str, str, str, str, Callable[[Any], Workload]]] = {
    WorkloadKind.DEPLOYMENT: ("apps", "deployments", "apps", "deployment", convert.deployment),
    WorkloadKind.STATEFUL_SET: (
        "apps",
        "statefulsets",
        "apps",
        "stateful_set",
        convert.stateful_set,
    ),
    WorkloadKind.DAEMON_SET: ("apps", "daemonsets", "apps", "daemon_set", convert.daemon_set),
    WorkloadKind.REPLICA_SET: ("apps", "replicasets", "apps", "replica_set", convert.replica_set),
    WorkloadKind.JOB: ("batch", "jobs", "batch", "job", convert.job),
}


def _name(value: Any) -> str:
    return str(value.name)


def _key(value: Any) -> str:
    return str(value.key)


def _namespace(value: Any) -> str:
    return str(value.namespace)


def _namespaced_name(value: Any) -> str:
    return f"{value.namespace}/{value.name}"


def _taint_key(taint: Taint) -> tuple[str, str]:
    return taint.key, taint.effect.value


if TYPE_CHECKING:

    def _implements_port(cluster: KubernetesCluster) -> Cluster:
        return cluster  # mypy proves KubernetesCluster satisfies the port


# Karpenter objects arrive as plain dicts (CustomObjectsApi): read defensively.


def _dig(raw: Any, *path: str) -> Any:
    for key in path:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def _node_pool(raw: dict[str, Any]) -> NodePool:
    budgets = tuple(
        DisruptionBudget(
            nodes=str(b.get("nodes", "10%")),
            reasons=tuple(str(r) for r in b.get("reasons") or ()),
            schedule=str(b.get("schedule") or ""),
            duration=str(b.get("duration") or ""),
        )
        for b in _dig(raw, "spec", "disruption", "budgets") or ()
        if isinstance(b, dict)
    )
    pool = NodePool(
        name=str(_dig(raw, "metadata", "name") or ""),
        node_class=str(_dig(raw, "spec", "template", "spec", "nodeClassRef", "name") or ""),
        budgets=budgets or (DisruptionBudget(),),
    )
    return karpenter.with_template(pool, raw)


def _node_class(raw: Any) -> NodeClass:
    terms = _dig(raw, "spec", "amiSelectorTerms") or ()
    amis = _dig(raw, "status", "amis") or ()
    return NodeClass(
        name=str(_dig(raw, "metadata", "name") or ""),
        ami_selector_terms=tuple(
            AmiSelectorTerm.from_json(t) for t in terms if isinstance(t, dict)
        ),
        ami_family=str(_dig(raw, "spec", "amiFamily") or ""),
        amis=tuple(str(a.get("id")) for a in amis if isinstance(a, dict) and a.get("id")),
        zones=tuple(
            sorted(
                {
                    str(s["zone"])
                    for s in _dig(raw, "status", "subnets") or ()
                    if isinstance(s, dict) and s.get("zone")
                }
            )
        ),
    )


def _condition(raw: dict[str, Any], kind: str) -> bool:
    conditions = _dig(raw, "status", "conditions") or ()
    return any(
        isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True"
        for c in conditions
    )


def _node_claim(raw: dict[str, Any]) -> NodeClaim:
    labels = _dig(raw, "metadata", "labels") or {}
    return NodeClaim(
        name=str(_dig(raw, "metadata", "name") or ""),
        node_pool=str(labels.get(KARPENTER_NODEPOOL_LABEL) or ""),
        node_class=str(_dig(raw, "spec", "nodeClassRef", "name") or ""),
        node_name=str(_dig(raw, "status", "nodeName") or ""),
        image_id=str(_dig(raw, "status", "imageID") or ""),
        ready=_condition(raw, "Ready"),
        drifted=_condition(raw, DRIFTED),
        deleting=bool(_dig(raw, "metadata", "deletionTimestamp")),
    )


def _ca_data(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    try:
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")
    except OSError:
        return None
