"""Karpenter's objects through the `Cluster` port.

The port calls are logged under our lock and answered by the FakeKarpenter after it is
released: its rounds take its lock before ours, so ours is never held when taking its.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import AmiSelectorTerm, NodeClaim, NodeClass, NodePool
from upgrader.sandbox.cluster.store import ClusterStore

if TYPE_CHECKING:
    from upgrader.sandbox.cluster.karpenter import FakeKarpenter


class KarpenterPort(ClusterStore):
    """NodePools, EC2NodeClasses and NodeClaims, answered by an attached FakeKarpenter."""

    def attach_karpenter(self, karpenter: FakeKarpenter) -> None:
        self._karpenter = karpenter

    def _require_karpenter(self, resource: str, name: str) -> FakeKarpenter:
        if self._karpenter is None:
            raise NotFoundError(
                f'{resource} "{name}" not found: the server could not find the requested '
                "resource (Karpenter's CRDs are not installed)"
            )
        return self._karpenter

    def list_node_pools(self) -> list[NodePool]:
        with self._api("list", "nodepools"):
            pass
        return self._karpenter.node_pools() if self._karpenter else []

    def list_node_classes(self) -> list[NodeClass]:
        with self._api("list", "ec2nodeclasses"):
            pass
        return self._karpenter.node_classes() if self._karpenter else []

    def get_node_class(self, name: str) -> NodeClass:
        with self._api("get", "ec2nodeclasses", "", name):
            pass
        return self._require_karpenter("ec2nodeclasses", name).node_class(name)

    def patch_node_class_ami_selector(
        self, name: str, terms: Sequence[AmiSelectorTerm]
    ) -> NodeClass:
        with self._api("patch", "ec2nodeclasses", "", name):
            pass
        return self._require_karpenter("ec2nodeclasses", name).set_ami_selector(name, terms)

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        with self._api("list", "nodeclaims"):
            pass
        return self._karpenter.node_claims(node_pool) if self._karpenter else []
