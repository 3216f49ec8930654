"""Karpenter v1 custom resources (cluster-scoped): node pools, EC2 node classes, node claims."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from upgrader.adapters.kubernetes import karpenter_codec
from upgrader.adapters.kubernetes.base import KARPENTER_AWS_GROUP, KARPENTER_GROUP, ClusterApi
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import (
    DRIFTED,
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


# Karpenter objects arrive as plain dicts (CustomObjectsApi): read defensively.


def _dig(raw: Any, *path: str) -> Any:
    for key in path:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


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
