"""Karpenter's NodePools (karpenter.sh/v1) over the sandbox API, read-only.

`eksup plan` and the karpenter-drift step read each NodePool's template (labels, requirements,
taints) to know what its new nodes will carry; served here from the FakeKarpenter with the
adapter's own codec (`upgrader.adapters.kubernetes.karpenter_codec`), so the real adapter, kubectl
(`kubectl get nodepools`, `kubectl get nodepool NAME -o yaml`) and the fake see the same fields.
Without Karpenter in the world the list is empty and a get is 404, as on a cluster whose CRDs
are installed but holds no pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import encode, karpenter_codec
from upgrader.core.errors import NotFoundError
from upgrader.sandbox.apiserver.http import Request, Response, json_response

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

_PLURAL = "nodepools"


def _ok(value: dict[str, Any]) -> Response:
    return json_response(200, value)


def list_node_pools(self: ApiState, _: Request, __: Sequence[str]) -> Response:
    created = encode.timestamp(self.created_at)
    items = [karpenter_codec.node_pool_json(p, created) for p in self.cluster.list_node_pools()]
    return _ok(
        {
            "apiVersion": karpenter_codec.API_VERSION,
            "kind": "NodePoolList",
            "metadata": {"resourceVersion": str(self.cluster.changes)},
            "items": items,
        }
    )


def get_node_pool(self: ApiState, _: Request, args: Sequence[str]) -> Response:
    for pool in self.cluster.list_node_pools():
        if pool.name == args[0]:
            return _ok(karpenter_codec.node_pool_json(pool, encode.timestamp(self.created_at)))
    raise NotFoundError(f'{_PLURAL}.karpenter.sh "{args[0]}" not found')


KARPENTER_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", f"/apis/{karpenter_codec.API_VERSION}/{_PLURAL}", list_node_pools),
    ("GET", f"/apis/{karpenter_codec.API_VERSION}/{_PLURAL}/{{name}}", get_node_pool),
]
