"""Workload routes (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs): list (and
watch), get and the patches eksup's adapter and `kubectl rollout restart` send; PDB and
PersistentVolume lists. Creating, scaling and deleting them is writes.py's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from upgrader.core.kube import LabelSelector, PodDisruptionBudget, Workload, WorkloadKind
from upgrader.sandbox.apiserver import lists, objects, tables
from upgrader.sandbox.apiserver.http import HttpError, Request, Response, json_response
from upgrader.sandbox.apiserver.selectors import (
    is_watch,
    list_response,
    listed,
    page_of,
    workload_matcher,
)

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
_RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def list_workloads(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    *namespace, resource = args
    kind = _workload_kind(resource)
    matches = workload_matcher(request, namespace[0] if namespace else None)
    api_version = "batch/v1" if kind is WorkloadKind.JOB else "apps/v1"
    if is_watch(request):
        return api.watch_response(
            request, resource, kind.value, api_version, matches=matches, table=None
        )

    def fresh() -> tuple[int, Callable[[], list[lists.Item]]]:
        revision, state = api.feed.snapshot(resource)
        return revision, lambda: [i for i in state.values() if matches(i[0])]

    items, cont, revision = api.paged(request, fresh)
    if request.wants_table:
        return listed(workload_table(api, [w for w, _ in items], cont), revision)
    return list_response(f"{kind.value}List", api_version, revision, items, cont)


def get_workload(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    namespace, resource, name = args
    workload = api.cluster.get_workload(_workload_kind(resource), namespace, name)
    if request.wants_table:
        return json_response(200, workload_table(api, [workload], ""))
    return json_response(200, workload_json(api, workload))


def workload_json(api: ApiState, workload: Workload) -> Json:
    """A workload's JSON; a Deployment's status counts its ReplicaSets' replicas, so
    `kubectl rollout status` sees a rollout's old replicas go and the new ones arrive."""
    wire = objects.workload(workload, api.created_at)
    if workload.kind is not WorkloadKind.DEPLOYMENT:
        return wire
    owned = [
        rs
        for rs in api.cluster.list_workloads(WorkloadKind.REPLICA_SET, workload.namespace)
        if rs.owner is not None and rs.owner.name == workload.name
    ]
    current = [rs for rs in owned if _same_template(rs, workload)]
    if owned:
        wire["status"]["replicas"] = sum(rs.replicas or 0 for rs in owned)
        wire["status"]["updatedReplicas"] = (current[-1].replicas or 0) if current else 0
    return wire


def patch_workload(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    """What the adapter patches: spec.replicas (or a Job's parallelism), and the template's
    restartedAt annotation (`kubectl rollout restart`)."""
    namespace, resource, name = args
    kind = _workload_kind(resource)
    spec = request.json().get("spec") or {}
    workload = api.cluster.get_workload(kind, namespace, name)
    field_name = "parallelism" if kind is WorkloadKind.JOB else "replicas"
    replicas = spec.get(field_name)
    if field_name in spec and replicas is None:
        # Removed (null in a merge patch, or a server-side apply that lets go of it): the
        # API's default, 1 (pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go).
        replicas = 1
    if replicas is not None:
        workload = api.cluster.scale_workload(kind, namespace, name, int(replicas))
    annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and _RESTARTED_AT in annotations:
        workload = api.cluster.restart_workload(kind, namespace, name)
    return json_response(200, workload_json(api, workload))


def list_pdbs(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    namespace = args[0] if args else None
    if is_watch(request):
        return api.watch_response(
            request,
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            "policy/v1",
            matches=lambda b: namespace is None or b.namespace == namespace,
            table=None,
        )
    # The revision first: a change after it reaches a watch started from it.
    revision = api.feed.sync("poddisruptionbudgets")
    pdbs = api.cluster.list_pdbs(namespace)
    page, cont = page_of(pdbs, request)
    if request.wants_table:
        return json_response(200, pdb_table(api, page, cont))
    wire = (objects.pod_disruption_budget(b, api.created_at) for b in page)
    document = objects.object_list("PodDisruptionBudgetList", "policy/v1", wire, cont)
    return listed(document, revision)


def list_persistent_volumes(api: ApiState, request: Request, _: Sequence[str]) -> Response:
    volumes = api.cluster.list_persistent_volumes()
    page, cont = page_of(volumes, request)
    wire = (objects.persistent_volume(v, api.created_at) for v in page)
    return json_response(200, objects.object_list("PersistentVolumeList", "v1", wire, cont))


def _workload_kind(resource: str) -> WorkloadKind:
    kind = objects.WORKLOAD_RESOURCES.get(resource)
    if kind is None:
        raise HttpError(404, "NotFound", "the server could not find the requested resource")
    return kind


def _same_template(replica_set: Workload, deployment: Workload) -> bool:
    template, wanted = replica_set.template, deployment.template
    return template.spec == wanted.spec and dict(template.annotations) == dict(wanted.annotations)


# -- printed columns ---------------------------------------------------------------------------


def workload_table(api: ApiState, workloads: Sequence[Workload], cont: str) -> Json:
    """kubectl's columns (pkg/printers/internalversion/printers.go: deploymentColumnDefinitions,
    statefulSetColumnDefinitions, daemonSetColumnDefinitions)."""
    now = api.now()
    kind = workloads[0].kind if workloads else WorkloadKind.DEPLOYMENT
    rows = []
    for w in workloads:
        age = tables.age(now - (w.created_at or api.created_at))
        wire = workload_json(api, w)
        status = wire["status"]
        if kind is WorkloadKind.DAEMON_SET:
            n = w.ready_replicas
            cells: list[Any] = [w.name, n, n, w.ready_replicas, n, w.available_replicas]
            cells += [_node_selector(w), age]
        elif kind is WorkloadKind.STATEFUL_SET:
            cells = [w.name, f"{w.ready_replicas}/{w.replicas}", age]
        else:
            updated = status.get("updatedReplicas", w.replicas)
            cells = [w.name, f"{w.ready_replicas}/{w.replicas}", updated, w.available_replicas, age]
        cells += ["main", "public.ecr.aws/sandbox/app:1", selector_text(w.selector)]
        rows.append((cells, wire))
    if kind is WorkloadKind.DAEMON_SET:
        head = ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available"]
        columns = [(c, 0) for c in [*head, "Node Selector", "Age"]]
    elif kind is WorkloadKind.STATEFUL_SET:
        columns = [("Name", 0), ("Ready", 0), ("Age", 0)]
    else:
        columns = [(c, 0) for c in ("Name", "Ready", "Up-to-date", "Available", "Age")]
    columns += [("Containers", 1), ("Images", 1), ("Selector", 1)]
    return tables.table(columns, rows, cont)


def _node_selector(workload: Workload) -> str:
    selector = workload.template.spec.node_selector
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def selector_text(selector: LabelSelector) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.match_labels.items())) or "<none>"


def pdb_table(api: ApiState, pdbs: Sequence[PodDisruptionBudget], cont: str) -> Json:
    now = api.now()
    columns = [
        ("Name", 0),
        ("Min Available", 0),
        ("Max Unavailable", 0),
        ("Allowed Disruptions", 0),
        ("Age", 0),
    ]
    rows = [
        (
            [
                b.name,
                "N/A" if b.min_available is None else str(b.min_available),
                "N/A" if b.max_unavailable is None else str(b.max_unavailable),
                b.disruptions_allowed,
                tables.age(now - (b.created_at or api.created_at)),
            ],
            objects.pod_disruption_budget(b, api.created_at),
        )
        for b in pdbs
    ]
    return tables.table(columns, rows, cont)
