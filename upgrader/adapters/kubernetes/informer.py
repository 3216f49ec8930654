"""Informers: the reads a drain repeats, answered from watches instead of a list each time.

While `KubernetesCluster.watching()` is open, the first read of nodes, pods, budgets or a
workload kind starts a `Reflector` for that resource, as client-go's shared informers do
(k8s.io/client-go/tools/cache/reflector.go, ListAndWatch): it lists once (raw JSON pages
decoded by `wire`, like every bulk read), then watches from the list's resourceVersion with
`allowWatchBookmarks=true` and applies each event to an in-memory `Store`. A watch that ends
(its timeoutSeconds ran out) resumes from the last resourceVersion seen, a bookmark's included;
410 Gone makes it list again. The apiserver sends that 410 as an ERROR event in a 200 stream
once the watch was admitted (k8s.io/apiserver/pkg/storage/cacher/cacher.go, Watch: "other
errors must fail with a watch event of type ERROR"), or as the HTTP status before; both are
handled. Reads are then answered from memory, filtered by the same selector grammar the API
server applies, with a by-node and a by-namespace index so a drain round costs no request.

Freshness. A cache trails the server by the time an event takes to arrive. A drain that read
a pod it has just evicted as still running would evict it again, and one that read a budget
as not yet spent would ask for evictions the server must refuse. So after an eviction or a
deletion the next read of pods waits (at most `EXPECTATION_SECONDS`) until the store has
applied an event for that pod, as client-go controllers wait for their own creations and
deletions to be observed (kubernetes/pkg/controller/controller_utils.go,
ControllerExpectations); after the eviction of a Ready pod, the next read of budgets waits for
those covering it too, whose status the Eviction API writes before it deletes the pod
(pkg/registry/core/pod/storage/eviction.go, checkAndDecrement). After a node or workload is
patched, the next read of its kind waits for its event when the server's answer differs from
the cached object (when they agree, the cache is already current and no event may come: a
patch that changes nothing makes none). A surged drain that scaled a Deployment up thus never
reads the replicas it had before.

Pods are followed per node, with the field selector `spec.nodeName=<node>`, as the kubelet
follows its own pods (k8s.io/kubernetes/pkg/kubelet/config/apiserver.go,
NewSourceApiserver): a drain reads the pods of the nodes it drains, and following every pod of
a 150,000-pod cluster to learn about 3,000 of them would cost a list of them all (minutes of
CPU and hundreds of MiB, measured by `make bench`) and every event of every other node. The
first read of a node's pods starts its reflector. Pods read by namespace alone (a wait for
Fargate pods, each on a node of its own) are followed per namespace the same way, with
`metadata.namespace=<namespace>`; reads of every pod go to the API server, as without
`watching()`.

When a resource cannot be watched (RBAC allows list but not watch, the connection drops and
does not come back), its reads go to the API server directly, as without `watching()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from upgrader.core.errors import EksupError, NotFoundError, ServiceUnavailableError
from upgrader.core.label_selector import parse_label_selector

# The apiserver closes a watch after a random 5-10 min unless asked otherwise (client-go's
# reflector asks for minWatchTimeout 5 min times 1-2); the reflector then resumes it.
WATCH_SECONDS = 300
# Beyond the watch's own timeout, how long a silent connection may stay silent (bookmarks come
# every minute) before it is taken as dead and the watch is started again.
READ_SLACK_SECONDS = 90.0
EXPECTATION_SECONDS = 5.0  # how long a read waits for the event of the client's own change
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)  # back-off between failed list/watch attempts

Errors = Callable[[str, str], AbstractContextManager[None]]
# `list_decoded_at`: a list call and decoder -> every item and the list's resourceVersion
ListAt = Callable[..., tuple[list[Any], str]]
NODES, PODS, PDBS = "nodes", "pods", "poddisruptionbudgets.policy"
_PODS_ON = "pods on node "  # + a node's name: the resource of that node's pod informer
_PODS_IN = "pods in namespace "  # + a namespace: the resource of that namespace's pod informer
Touches = dict[str, dict[str, int]]  # resource -> key -> events seen before a change


def pods_on(node: str) -> str:
    """The informer resource of the pods bound to `node` ("": pods not bound to any)."""
    return _PODS_ON + node


def pods_in(namespace: str) -> str:
    """The informer resource of the pods of `namespace` (a wait on Fargate pods, each on a
    node of its own, reads them by namespace)."""
    return _PODS_IN + namespace


def _follows_pods(resource: str) -> bool:
    return resource.startswith((_PODS_ON, _PODS_IN))


class _GoneError(Exception):
    """410: the resourceVersion to resume from is older than the server keeps; list again."""


@dataclass(frozen=True)
class Source:
    """One resource an informer can follow: its list call (the generated client's
    `list_..._for_all_namespaces`, which also watches), its decoder and its key."""

    resource: str  # as errors name it: "pods", "poddisruptionbudgets.policy"
    list_call: Callable[..., Any]
    decode: Callable[[Mapping[str, Any]], Any]
    key: Callable[[Any], str]
    indexes: Mapping[str, Callable[[Any], str]] = field(default_factory=dict)


class Store:
    """Objects by key, with indexes, and how many events each key has seen (`touches`)."""

    def __init__(self, source: Source) -> None:
        self._key = source.key
        self._indexers = dict(source.indexes)
        self._items: dict[str, Any] = {}
        self._indexes: dict[str, dict[str, dict[str, None]]] = {n: {} for n in self._indexers}
        self._touches: dict[str, int] = {}
        self.changed = threading.Condition()

    def replace(self, values: Iterable[Any]) -> None:
        """A fresh list: keys changed or gone count as touched."""
        fresh = {self._key(v): v for v in values}
        with self.changed:
            for key, value in self._items.items():
                if fresh.get(key) is not value:
                    self._touches[key] = self._touches.get(key, 0) + 1
            self._items = {}
            self._indexes = {n: {} for n in self._indexers}
            for key, value in fresh.items():
                self._put(key, value)
            self.changed.notify_all()

    def apply(self, kind: str, value: Any) -> None:
        key = self._key(value)
        with self.changed:
            self._remove(key)
            if kind != "DELETED":
                self._put(key, value)
            self._touches[key] = self._touches.get(key, 0) + 1
            self.changed.notify_all()

    def _put(self, key: str, value: Any) -> None:
        self._items[key] = value
        for name, of in self._indexers.items():
            self._indexes[name].setdefault(of(value), {})[key] = None

    def _remove(self, key: str) -> None:
        old = self._items.pop(key, None)
        if old is None:
            return
        for name, of in self._indexers.items():
            bucket = self._indexes[name].get(of(old))
            if bucket is not None:
                bucket.pop(key, None)

    def get(self, key: str) -> Any | None:
        with self.changed:
            return self._items.get(key)

    def values(self, index: str | None = None, value: str = "") -> list[Any]:
        """The objects (of one index bucket), in key order as the API server lists them."""
        with self.changed:
            if index is None:
                keys: Iterable[str] = self._items
            else:
                keys = self._indexes[index].get(value, {})
            return [self._items[k] for k in sorted(keys)]

    def touches(self, key: str) -> int:
        with self.changed:
            return self._touches.get(key, 0)

    def current(self, key: str) -> tuple[Any | None, int]:
        """The object and its touches, read together."""
        with self.changed:
            return self._items.get(key), self._touches.get(key, 0)

    def wait_touched(self, expected: Mapping[str, int], timeout: float) -> bool:
        """Wait until every key has seen more events than `expected` says; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while any(self._touches.get(k, 0) <= n for k, n in expected.items()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True


class Reflector:
    """List, then watch, one resource into a `Store`, on a thread of its own."""

    def __init__(
        self, source: Source, errors: Errors, list_at: ListAt, *, page_size: int, watch_seconds: int
    ) -> None:
        self.source = source
        self._list_at = list_at
        self.store = Store(source)
        self.requests = 0  # list pages and watches asked for (the benchmarks count them)
        self.relists = 0
        self._errors = errors
        self._page_size = page_size
        self._watch_seconds = watch_seconds
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        # Set while the resource cannot be followed: its reads go to the API server instead.
        self.failure: EksupError | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"eksup-informer-{source.resource}", daemon=True
        )
        self._thread.start()

    def wait_synced(self) -> bool:
        """Block until the first list is in the store; False when it failed (read directly)."""
        while not self._synced.wait(0.5):
            if self.failure is not None or not self._thread.is_alive():
                return False
        return self.failure is None

    @property
    def usable(self) -> bool:
        return self._synced.is_set() and self.failure is None

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            # Wakes the thread blocked reading the stream; the connection may be gone already.
            with contextlib.suppress(Exception):
                response.shutdown()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        version: str | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                    self._synced.set()
                version = self._watch(version)
                failures = 0
            except _GoneError:
                version = None
                self.relists += 1
            except Exception as error:  # the thread must outlive any failure
                if self._stop.is_set():
                    return
                self.failure = (
                    error
                    if isinstance(error, EksupError)
                    else ServiceUnavailableError(f"watch {self.source.resource}: {error}")
                )
                self._synced.set()
                self._stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1

    def _list(self) -> str:
        def counted(**query: Any) -> Any:
            self.requests += 1
            return self.source.list_call(**query)

        with self._errors("list", self.source.resource):
            items, version = self._list_at(counted, self.source.decode, page_size=self._page_size)
        self.store.replace(items)
        self.failure = None
        return version

    def _watch(self, version: str) -> str:
        """Follow the watch from `version` until the server ends it; the version to resume
        from. Raises _GoneError on 410."""
        with self._errors("watch", self.source.resource):
            self.requests += 1
            try:
                response = self.source.list_call(
                    watch=True,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=self._watch_seconds,
                    _preload_content=False,
                    _request_timeout=(30, self._watch_seconds + READ_SLACK_SECONDS),
                )
            except Exception as error:
                if getattr(error, "status", None) == 410:
                    raise _GoneError from error
                raise
            with self._lock:
                self._response = response
            if self._stop.is_set():
                return version
            self.failure = None
            try:
                for line in _lines(response):
                    if self._stop.is_set():
                        break
                    version = self._event(line, version)
            except Exception:
                if self._stop.is_set():
                    return version
                raise
            finally:
                with self._lock:
                    self._response = None
                response.release_conn()
        return version

    def _event(self, line: bytes, version: str) -> str:
        event = json.loads(line)
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _GoneError
            raise ServiceUnavailableError(
                f"watch {self.source.resource}: {obj.get('message') or 'error event'}"
            )
        seen = str((obj.get("metadata") or {}).get("resourceVersion") or version)
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.store.apply(kind, self.source.decode(obj))
        return seen  # a BOOKMARK carries only this


def _lines(response: Any) -> Iterator[bytes]:
    """The stream's JSON lines, as chunks arrive (one event may span chunks)."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())
    if pending.strip():
        yield pending


class Informers:
    """The reflectors of one `watching()` span, started on first read of each resource."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        errors: Errors,
        list_at: ListAt,
        *,
        page_size: int,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self._sources = dict(sources)
        self._errors = errors
        self._list_at = list_at
        self._page_size = page_size
        self._watch_seconds = watch_seconds
        self._reflectors: dict[str, Reflector] = {}
        self._expected: dict[str, dict[str, int]] = {}  # resource -> key -> touches before

    @property
    def requests(self) -> int:
        """List pages and watches asked for so far: the cost of following the cluster."""
        return sum(r.requests for r in self._reflectors.values())

    @property
    def followed(self) -> list[str]:
        """The resources followed now, by name (`pods_on`, `pods_in` for pods)."""
        return sorted(self._reflectors)

    def close(self) -> None:
        for reflector in self._reflectors.values():
            reflector.close()

    def store(self, resource: str) -> Store | None:
        """The resource's store once it is listed; None when it cannot be followed."""
        reflector = self._reflectors.get(resource)
        if reflector is None:
            reflector = Reflector(
                self._source(resource),
                self._errors,
                self._list_at,
                page_size=self._page_size,
                watch_seconds=self._watch_seconds,
            )
            self._reflectors[resource] = reflector
            if resource.startswith(_PODS_ON):
                self._forget_gone_nodes(keep=resource)
            if not reflector.wait_synced():
                return None
        if not reflector.usable:
            return None
        expected = self._expected.pop(resource, None)
        if expected:
            reflector.store.wait_touched(expected, EXPECTATION_SECONDS)
        return reflector.store

    def _forget_gone_nodes(self, keep: str) -> None:
        """Close the pod informers of nodes the node informer no longer has. One `watching()`
        spans a whole `execute` run: without this it would hold a watch (a thread and a
        connection) for every node it ever drained, long after their instances are gone."""
        nodes = self._reflectors.get(NODES)
        if nodes is None or not nodes.usable:
            return
        for resource in [r for r in self._reflectors if r.startswith(_PODS_ON)]:
            name = resource.removeprefix(_PODS_ON)
            if resource != keep and name and nodes.store.get(name) is None:
                self._reflectors.pop(resource).close()
                self._expected.pop(resource, None)

    def _source(self, resource: str) -> Source:
        if _follows_pods(resource):
            pods = self._sources[PODS]
            selector = (
                f"spec.nodeName={resource.removeprefix(_PODS_ON)}"
                if resource.startswith(_PODS_ON)
                # Every resource's objects can be selected by metadata.namespace
                # (k8s.io/apiserver/pkg/registry/generic/matcher.go, ObjectMetaFieldsSet).
                else f"metadata.namespace={resource.removeprefix(_PODS_IN)}"
            )
            return dataclasses.replace(
                pods, list_call=functools.partial(pods.list_call, field_selector=selector)
            )
        return self._sources[resource]

    def before_pod_change(self, pod_key: str, *, eviction: bool) -> Touches:
        """What an eviction or deletion of `pod_key` will move, with the events each has seen:
        the pod (in the informer of its node) and, for the eviction of a Ready pod, the budgets
        that cover it."""
        found: Touches = {}
        pod = None
        for resource, reflector in list(self._reflectors.items()):
            if _follows_pods(resource):  # its node's informer, its namespace's, or both
                cached, touches = reflector.store.current(pod_key)
                if cached is not None:
                    found[resource] = {pod_key: touches}
                    pod = pod or cached
        budgets = self._reflectors.get(PDBS)
        if (
            eviction
            and budgets is not None
            and pod is not None
            and pod.ready
            and not pod.is_terminating
        ):
            found[PDBS] = {
                b.key: budgets.store.touches(b.key)
                for b in budgets.store.values("namespace", pod.namespace)
                if b.selector.matches(pod.labels)
            }
        return found

    def changed(self, before: Touches) -> None:
        """The change went through: the next reads wait for its events."""
        for resource, keys in before.items():
            expected = self._expected.setdefault(resource, {})
            for key, touches in keys.items():
                expected.setdefault(key, touches)

    def wrote(self, resource: str, key: str, answer: Any) -> None:
        """The server answered a patch of `key` with `answer`: unless the cache agrees, the
        next read waits for the event that will make it agree."""
        reflector = self._reflectors.get(resource)
        if reflector is None or not reflector.usable:
            return
        cached, touches = reflector.store.current(key)
        if cached != answer:
            self._expected.setdefault(resource, {}).setdefault(key, touches)

    def select(
        self,
        resource: str,
        *,
        index: tuple[str, str] | None = None,
        label_selector: str | None = None,
        labels: Callable[[Any], Mapping[str, str]] = lambda v: v.labels,
    ) -> list[Any] | None:
        """The resource's objects in an index bucket matching a label selector, from memory;
        None when the resource cannot be followed (read it from the server)."""
        store = self.store(resource)
        if store is None:
            return None
        found = store.values(*index) if index is not None else store.values()
        if not label_selector:
            return found
        selector = parse_label_selector(label_selector)
        return [v for v in found if selector.matches(labels(v))]

    def get(self, resource: str, key: str, what: str) -> Any | None:
        """One object; NotFoundError when the followed resource has no such key."""
        store = self.store(resource)
        if store is None:
            return None
        value = store.get(key)
        if value is None:
            raise NotFoundError(f"{what} not found")
        return value
