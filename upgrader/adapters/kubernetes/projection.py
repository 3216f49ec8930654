"""A pod list page decoded to only the fields `wire.pod` reads.

A production pod is ~6 KB of JSON, most of it managedFields, env lists, probes and container
statuses that eksup never reads. `json.loads` builds a Python object for every one of them and
frees it straight after: for 150,000 pods that was about half of `eksup plan`'s CPU (measured:
`make bench`, `benchmarks/plan_real_path.py`). msgspec decodes the page against the typed
skeleton below instead and skips every field the skeleton does not name without building it
(about 5x faster per page on production-shaped pods); `msgspec.to_builtins` then gives the
same dicts `json.loads` would have, pruned, and `wire.pod` converts them by the one set of rules.

Every field `wire.pod` reads must be named here; `tests/adapters/kubernetes/test_wire.py` runs
each conversion case through this projection as well and requires the same pod. Leaves are typed
`Any`, so whatever the server sends in them arrives as `json.loads` would give it; a field
missing from the JSON stays missing (UNSET is left out by `to_builtins`), so defaults apply in
`wire` exactly as before. A page that does not fit the skeleton (a field of an unexpected shape)
is decoded whole instead, and converted by the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

Json = Mapping[str, Any]
# A page's items (as dicts) and its list metadata.
Page = tuple[Sequence[Json], Json]
PageDecoder = Callable[[bytes], Page]


class _Fields(Struct, omit_defaults=True, rename="camel"):
    """Fields named in snake case, sent in the API's camel case; absent ones stay absent."""


class _Present(_Fields):
    """A field only tested for presence (readinessProbe, emptyDir, hostPath): contents skipped."""


class _OwnerReference(_Fields):
    kind: Any = UNSET
    name: Any = UNSET
    controller: Any = UNSET


class _ObjectMeta(_Fields):
    name: Any = UNSET
    namespace: Any = UNSET
    uid: Any = UNSET
    labels: Any = UNSET
    annotations: Any = UNSET
    owner_references: list[_OwnerReference] | UnsetType | None = UNSET
    creation_timestamp: Any = UNSET
    deletion_timestamp: Any = UNSET


class _Resources(_Fields):
    requests: Any = UNSET  # limits and claims: not read


class _Container(_Fields):
    resources: _Resources | UnsetType | None = UNSET
    readiness_probe: _Present | UnsetType | None = UNSET
    restart_policy: Any = UNSET


class _NodeAffinity(_Fields):
    required_during_scheduling_ignored_during_execution: Any = UNSET


class _Affinity(_Fields):
    node_affinity: _NodeAffinity | UnsetType | None = UNSET  # pod (anti-)affinity: not read


class _Volume(_Fields):
    name: Any = UNSET
    empty_dir: _Present | UnsetType | None = UNSET
    host_path: _Present | UnsetType | None = UNSET
    persistent_volume_claim: Any = UNSET


class _PodSpec(_Fields):
    node_name: Any = UNSET
    containers: list[_Container] | UnsetType | None = UNSET
    init_containers: list[_Container] | UnsetType | None = UNSET
    resources: _Resources | UnsetType | None = UNSET
    overhead: Any = UNSET
    tolerations: Any = UNSET
    node_selector: Any = UNSET
    affinity: _Affinity | UnsetType | None = UNSET
    volumes: list[_Volume] | UnsetType | None = UNSET
    termination_grace_period_seconds: Any = UNSET
    priority_class_name: Any = UNSET
    topology_spread_constraints: Any = UNSET


class _PodCondition(_Fields):
    type: Any = UNSET
    status: Any = UNSET
    last_transition_time: Any = UNSET
    reason: Any = UNSET  # PodScheduled: "Unschedulable", with kube-scheduler's message
    message: Any = UNSET


class _Running(_Fields):
    started_at: Any = UNSET


class _ContainerState(_Fields):
    running: _Running | UnsetType | None = UNSET  # waiting and terminated: not read


class _ContainerStatus(_Fields):
    restart_count: Any = UNSET
    state: _ContainerState | UnsetType | None = UNSET


class _PodStatus(_Fields):
    phase: Any = UNSET
    conditions: list[_PodCondition] | UnsetType | None = UNSET
    container_statuses: list[_ContainerStatus] | UnsetType | None = UNSET


class _Pod(_Fields):
    metadata: _ObjectMeta | UnsetType | None = UNSET
    spec: _PodSpec | UnsetType | None = UNSET
    status: _PodStatus | UnsetType | None = UNSET


class _PodList(Struct):
    metadata: Any = None
    items: list[_Pod] | None = None


class _ListHead(Struct):
    """Only a list's metadata: the items are skipped (to read the continue token first)."""

    metadata: Any = None


_POD_LIST = msgspec.json.Decoder(_PodList)
_LIST_HEAD = msgspec.json.Decoder(_ListHead)
_ANY = msgspec.json.Decoder()


def whole(data: bytes) -> Page:
    """Any list page, every field decoded."""
    page = _ANY.decode(data)
    if not isinstance(page, dict):
        raise ValueError("a list response is not a JSON object")
    return page.get("items") or (), page.get("metadata") or {}


def pods(data: bytes) -> Page:
    """A pod list page, projected to the fields `wire.pod` reads."""
    try:
        page = _POD_LIST.decode(data)
    except msgspec.ValidationError:
        return whole(data)  # valid JSON of another shape: the general rules handle it
    items = msgspec.to_builtins(page.items) if page.items else []
    return items, page.metadata if isinstance(page.metadata, dict) else {}


def head(data: bytes) -> Json:
    """A list page's metadata (continue token, resourceVersion), its items skipped.

    The API server writes a list's metadata before its items (Go's encoding/json follows the
    field order of metav1.ListMeta's holder: kind, apiVersion, metadata, items), so the text
    before `"items":` is decoded alone; when that is not a JSON object with the metadata in it
    (another order, or the words inside a string), the whole page is scanned instead."""
    cut = data.find(b'"items":')
    if cut > 0:
        try:
            found = _LIST_HEAD.decode(data[:cut].rstrip().rstrip(b",") + b"}").metadata
        except msgspec.DecodeError:
            found = None
        if isinstance(found, dict):
            return found
    found = _LIST_HEAD.decode(data).metadata
    return found if isinstance(found, dict) else {}


def pod(source: Json) -> dict[str, Any]:
    """One pod's JSON, projected as `pods` projects each item (the tests compare the two)."""
    projected: dict[str, Any] = msgspec.to_builtins(msgspec.convert(source, _Pod))
    return projected
