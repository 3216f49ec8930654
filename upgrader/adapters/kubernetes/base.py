"""The Kubernetes adapter's shared part: the client, its API classes, errors, lists by path.

`KubernetesCluster` (client.py) is this base plus one class per group of calls (nodes, pods,
workloads, inventory reads, traffic, coordination state, Karpenter), each in its own module.
Lists page with `limit`/`continue` (`pages`) so a 150,000-pod cluster never arrives as one
response; errors are translated once (`api_errors`).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3
from kubernetes.client import ApiClient, VersionApi
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from upgrader.adapters.clock import SystemClock
from upgrader.adapters.kubernetes import informer, raw, wire
from upgrader.adapters.kubernetes.api_errors import KubeconfigError, translate_api_exception
from upgrader.adapters.kubernetes.pages import DEFAULT_PAGE_SIZE, ListPage, list_all, list_decoded
from upgrader.core.errors import ServiceUnavailableError
from upgrader.core.kube import Taint, Workload, WorkloadKind

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
    )

    from upgrader.core.ports import Clock

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
KARPENTER_GROUP = "karpenter.sh"
KARPENTER_AWS_GROUP = "karpenter.k8s.aws"
# Read-modify-write attempts before a ConflictError reaches the caller.
_CONFLICT_ATTEMPTS = 3
# Idle connections kept for the pod watches: more than the nodes one drain follows at once.
_WATCH_CONNECTIONS = 1024

ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class _WorkloadApi:
    """The calls and decoder for one workload kind."""

    resource: str
    list_all_namespaces: Callable[..., Any]  # raw: what `list_decoded` and watches call
    list_namespaced: Callable[..., Any]
    read: Callable[..., Any]  # generated: called with `_preload_content=False` (`_json`)
    patch: Callable[..., Any]
    decode: Callable[[Mapping[str, Any]], Workload]


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


class ClusterApi:
    """What every group of calls shares: the `ApiClient`, the generated API classes (imported
    on first use), error translation, lists by path. `KubernetesCluster` is built on it.
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
        # Bulk reads go by path (`raw`); the generated API classes, costly to import, are
        # built on first use by the single reads and writes.
        self._workloads: dict[WorkloadKind, _WorkloadApi] = {
            kind: _WorkloadApi(
                f"{plural}.{group}",
                raw.RawList(api_client, f"/apis/{group}/v1/{plural}"),
                raw.RawList(api_client, f"/apis/{group}/v1/namespaces/{{namespace}}/{plural}"),
                self._generated(api, f"read_namespaced_{singular}"),
                self._generated(api, f"patch_namespaced_{singular}"),
                wire.WORKLOADS[kind],
            )
            for kind, (group, plural, api, singular) in _WORKLOAD_CALLS.items()
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

    def _json(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """What a generated API method's request answers, as the JSON the server sent: `wire`
        decodes it, never the client's models (one decoder for every read). Errors raise
        ApiException as with models: call it inside `_errors`."""
        response = call(*args, _preload_content=False, **kwargs)
        found = json.loads(response.data)
        return found if isinstance(found, dict) else {}

    def _list_decoded(
        self,
        verb_resource: str,
        list_call: Callable[..., Any],
        decode: Callable[[Mapping[str, Any]], ItemT],
        **query: Any,
    ) -> list[ItemT]:
        with self._errors("list", verb_resource):
            return list_decoded(list_call, decode, page_size=self.page_size, **query)

    def _watch_client(self) -> ApiClient:
        """A client for the per-node pod watches: each holds a connection while it lasts, one
        per drained node, more than the client's pool keeps (urllib3 drops, and logs, every
        connection returned to a full pool). Same server, credentials and token refresh."""
        configuration = copy.copy(self.api_client.configuration)
        configuration.connection_pool_maxsize = _WATCH_CONNECTIONS
        return ApiClient(configuration)

    def _raw(self, path: str) -> raw.RawList:
        return raw.RawList(self.api_client, path)

    def server_version(self) -> str:
        with self._errors("get", "version"):
            return VersionApi(self.api_client).get_code().git_version


_PDBS = informer.PDBS
_PDB_PATH = "/apis/policy/v1/poddisruptionbudgets"
_NAMESPACED_PDBS = "/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
_NAMESPACED_PODS = "/api/v1/namespaces/{namespace}/pods"
_NAMESPACED_SERVICES = "/api/v1/namespaces/{namespace}/services"
# kind -> (API group, plural, generated API attribute, singular in its method names)
_WORKLOAD_CALLS: dict[WorkloadKind, tuple[str, str, str, str]] = {
    WorkloadKind.DEPLOYMENT: ("apps", "deployments", "apps", "deployment"),
    WorkloadKind.STATEFUL_SET: ("apps", "statefulsets", "apps", "stateful_set"),
    WorkloadKind.DAEMON_SET: ("apps", "daemonsets", "apps", "daemon_set"),
    WorkloadKind.REPLICA_SET: ("apps", "replicasets", "apps", "replica_set"),
    WorkloadKind.JOB: ("batch", "jobs", "batch", "job"),
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


def _ca_data(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    try:
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")
    except OSError:
        return None
