"""Lease routes: what eksup's lock (`eksup-lock` in kube-system) reads and writes. Creates
and replaces hold the server's write lock, so the resourceVersion compared is the one
written over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from upgrader.adapters.kubernetes import wire
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.http import Request, Response, json_response

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState


def get_lease(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    return json_response(200, objects.lease(api.cluster.get_lease(args[0], args[1])))


def create_lease(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    lease = wire.lease(request.json(), args[0])
    with api.write_lock:
        try:
            api.cluster.get_lease(lease.namespace, lease.name)
        except NotFoundError:
            created = api.cluster.create_lease(replace(lease, resource_version=""))
            return json_response(201, objects.lease(created))
    raise ConflictError(f'leases.coordination.k8s.io "{lease.name}" already exists')


def replace_lease(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    lease = wire.lease(request.json(), args[0], args[1])
    with api.write_lock:
        if not lease.resource_version:  # an unconditional update: the latest version
            current = api.cluster.get_lease(args[0], args[1])
            lease = replace(lease, resource_version=current.resource_version)
        return json_response(200, objects.lease(api.cluster.update_lease(lease)))


def delete_lease(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    api.cluster.delete_lease(args[0], args[1])
    return json_response(200, objects.status(200, "", ""))
