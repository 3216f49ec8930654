"""Karpenter v1 custom resources (cluster-scoped): node pools, EC2 node classes, node claims."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from upgrader.adapters.kubernetes import karpenter_codec
from upgrader.adapters.kubernetes.base import KARPENTER_AWS_GROUP, KARPENTER_GROUP, ClusterApi
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    NodeClaim,
    NodeClass,
    NodePool,
)


class KarpenterCalls(ClusterApi):
    def _custom_list(self, group: str, plural: str, **query: Any) -> list[dict[str, Any]]:
        try:
            with self._errors("list", f"{plural}.{group}"):
                raw = self.custom.list_cluster_custom_object(group, "v1", plural, **query)
        except NotFoundError:
            return []  # the CRD is not installed: no Karpenter, nothing to list
        items = raw.get("items") if isinstance(raw, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]

    def list_node_pools(self) -> list[NodePool]:
        return [
            karpenter_codec.node_pool(i) for i in self._custom_list(KARPENTER_GROUP, "nodepools")
        ]

    def list_node_classes(self) -> list[NodeClass]:
        classes = self._custom_list(KARPENTER_AWS_GROUP, "ec2nodeclasses")
        return [karpenter_codec.node_class(i) for i in classes]

    def get_node_class(self, name: str) -> NodeClass:
        with self._errors("get", f"ec2nodeclasses.{KARPENTER_AWS_GROUP}", name):
            raw = self.custom.get_cluster_custom_object(
                KARPENTER_AWS_GROUP, "v1", "ec2nodeclasses", name
            )
        return karpenter_codec.node_class(raw)

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
        return karpenter_codec.node_class(raw)

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        query = {"label_selector": f"{KARPENTER_NODEPOOL_LABEL}={node_pool}"} if node_pool else {}
        return [
            karpenter_codec.node_claim(i)
            for i in self._custom_list(KARPENTER_GROUP, "nodeclaims", **query)
        ]
