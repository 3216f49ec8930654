"""ConfigMap routes: what eksup's journal mirror reads and writes (get, create, replace with
a resourceVersion check, under the server's write lock) and what kubectl does to them (`get
cm` with kubectl's columns, printers.go configMapColumnDefinitions; delete)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import wire
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import ConfigMap
from upgrader.sandbox.apiserver import objects, tables
from upgrader.sandbox.apiserver.http import Request, Response, json_response

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]


def get_config_map(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    config_map = api.cluster.get_config_map(args[0], args[1])
    return json_response(200, objects.config_map(config_map, api.created_at))


def create_config_map(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    config_map = wire.config_map(request.json(), args[0])
    with api.write_lock:
        try:
            api.cluster.get_config_map(config_map.namespace, config_map.name)
        except NotFoundError:
            stored = api.cluster.apply_config_map(config_map)
            return json_response(201, objects.config_map(stored, api.created_at))
    raise ConflictError(f'configmaps "{config_map.name}" already exists')


def replace_config_map(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    config_map = wire.config_map(request.json(), args[0], args[1])
    with api.write_lock:
        current = api.cluster.get_config_map(args[0], args[1])
        if config_map.resource_version and (
            config_map.resource_version != current.resource_version
        ):
            raise ConflictError(
                f'Operation cannot be fulfilled on configmaps "{args[1]}": the object has '
                "been modified; please apply your changes to the latest version and try again"
            )
        stored = api.cluster.apply_config_map(config_map)
    return json_response(200, objects.config_map(stored, api.created_at))


def list_config_maps(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    maps = api.cluster.list_config_maps(args[0] if args else None)
    if request.wants_table:
        return json_response(200, config_map_table(api, maps, ""))
    wire = (objects.config_map(c, api.created_at) for c in maps)
    return json_response(200, objects.object_list("ConfigMapList", "v1", wire))


def delete_config_map(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    api.cluster.delete_config_map(args[0], args[1])
    return json_response(200, objects.status(200, "Success", f'configmap "{args[1]}" deleted'))


def config_map_table(api: ApiState, maps: Sequence[ConfigMap], cont: str) -> Json:
    now = api.now()
    rows = [
        (
            [c.name, len(c.data), tables.age(now - (c.created_at or api.created_at))],
            objects.config_map(c, api.created_at),
        )
        for c in maps
    ]
    return tables.table([("Name", 0), ("Data", 0), ("Age", 0)], rows, cont)


CONFIG_MAP_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/configmaps", list_config_maps),
    ("GET", "/api/v1/namespaces/{ns}/configmaps", list_config_maps),
    ("GET", "/api/v1/namespaces/{ns}/configmaps/{name}", get_config_map),
    ("POST", "/api/v1/namespaces/{ns}/configmaps", create_config_map),
    ("PUT", "/api/v1/namespaces/{ns}/configmaps/{name}", replace_config_map),
    ("DELETE", "/api/v1/namespaces/{ns}/configmaps/{name}", delete_config_map),
]
