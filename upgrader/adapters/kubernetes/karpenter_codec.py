"""Karpenter v1 objects as the API serves them and eksup's values: NodePools both ways (their
template too), EC2NodeClasses and NodeClaims read.

The adapter reads NodePools through CustomObjectsApi as plain dicts; the sandbox API server
renders its FakeKarpenter's pools with `node_pool_json`, so the two cannot disagree on a field.
The fields are karpenter.sh/v1's (pkg/apis/v1/nodepool.go, nodeclaim.go in kubernetes-sigs/
karpenter): `spec.template.metadata.labels`, and under `spec.template.spec` the
`requirements` (NodeSelectorRequirementWithMinValues: key, operator, values, minValues),
`taints`, `startupTaints` and `nodeClassRef`; `spec.disruption.budgets`; `spec.limits` and
`status.resources` (resource lists: cpu, memory, nodes).
Read defensively: a malformed entry is skipped, never a crash in the middle of a plan.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from upgrader.core.kube import (
    DRIFTED,
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    DisruptionBudget,
    NodeClaim,
    NodeClass,
    NodePool,
    PoolResources,
    SelectorRequirement,
    Taint,
    TaintEffect,
    parse_cpu,
    parse_memory,
)

Json = dict[str, Any]
API_VERSION = "karpenter.sh/v1"
# Karpenter adds Gte and Lte to the node selector operators (scheduling.md).
_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte"})


def _dig(raw: Any, *path: str) -> Any:
    for key in path:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def _taints(raw: Any) -> tuple[Taint, ...]:
    found = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not item.get("key"):
            continue
        try:
            effect = TaintEffect(str(item.get("effect")))
        except ValueError:
            continue
        found.append(Taint(str(item["key"]), effect, str(item.get("value") or "")))
    return tuple(found)


def _requirements(raw: Any) -> tuple[SelectorRequirement, ...]:
    found = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not item.get("key"):
            continue
        operator = str(item.get("operator") or "")
        if operator not in _OPERATORS:
            continue
        values = item.get("values") or ()
        found.append(
            SelectorRequirement(
                str(item["key"]), operator, tuple(str(v) for v in values if v is not None)
            )
        )
    return tuple(found)


def _resources(raw: Any) -> PoolResources:
    """A resource list (`spec.limits`, `status.resources`); an unreadable entry is unset."""
    if not isinstance(raw, dict):
        return PoolResources()
    values: dict[str, int | None] = {}
    for key, parse, field in (
        ("cpu", parse_cpu, "cpu_millis"),
        ("memory", parse_memory, "memory_bytes"),
        ("nodes", int, "nodes"),
    ):
        try:
            values[field] = None if raw.get(key) is None else parse(str(raw[key]))
        except ValueError:
            values[field] = None
    return PoolResources(**values)


def _resources_json(resources: PoolResources) -> Json:
    out: Json = {}
    if resources.cpu_millis is not None:
        out["cpu"] = f"{resources.cpu_millis}m"
    if resources.memory_bytes is not None:
        out["memory"] = str(resources.memory_bytes)
    if resources.nodes is not None:
        out["nodes"] = str(resources.nodes)
    return out


def with_template(pool: NodePool, raw: Any) -> NodePool:
    """`pool` with the template fields read from its JSON."""
    template = _dig(raw, "spec", "template")
    labels = _dig(template, "metadata", "labels")
    return replace(
        pool,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        requirements=_requirements(_dig(template, "spec", "requirements")),
        taints=_taints(_dig(template, "spec", "taints")),
        startup_taints=_taints(_dig(template, "spec", "startupTaints")),
        limits=_resources(_dig(raw, "spec", "limits")),
        usage=_resources(_dig(raw, "status", "resources")),
    )


def node_pool(raw: dict[str, Any]) -> NodePool:
    """A NodePool as the API serves it: its drift budgets and its template."""
    budgets = tuple(
        DisruptionBudget(
            nodes=str(b.get("nodes", "10%")),
            reasons=tuple(str(r) for r in b.get("reasons") or ()),
            schedule=str(b.get("schedule") or ""),
            duration=str(b.get("duration") or ""),
        )
        for b in _dig(raw, "spec", "disruption", "budgets") or ()
        if isinstance(b, dict)
    )
    pool = NodePool(
        name=str(_dig(raw, "metadata", "name") or ""),
        node_class=str(_dig(raw, "spec", "template", "spec", "nodeClassRef", "name") or ""),
        budgets=budgets or (DisruptionBudget(),),
    )
    return with_template(pool, raw)


def node_class(raw: Any) -> NodeClass:
    """An EC2NodeClass: its AMI selector terms, the AMIs and subnets' zones it resolved."""
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


def node_claim(raw: dict[str, Any]) -> NodeClaim:
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


def _taint_json(taint: Taint) -> Json:
    out: Json = {"key": taint.key, "effect": taint.effect.value}
    if taint.value:
        out["value"] = taint.value
    return out


def _requirement_json(requirement: SelectorRequirement) -> Json:
    out: Json = {"key": requirement.key, "operator": requirement.operator}
    if requirement.values:
        out["values"] = list(requirement.values)
    return out


def node_pool_json(pool: NodePool, created: str = "") -> Json:
    """The NodePool as the API server returns it (the fields eksup reads)."""
    spec: Json = {
        "nodeClassRef": {
            "group": "karpenter.k8s.aws",
            "kind": "EC2NodeClass",
            "name": pool.node_class,
        },
        "requirements": [_requirement_json(r) for r in pool.requirements],
    }
    if pool.taints:
        spec["taints"] = [_taint_json(t) for t in pool.taints]
    if pool.startup_taints:
        spec["startupTaints"] = [_taint_json(t) for t in pool.startup_taints]
    budgets = []
    for budget in pool.budgets:
        entry: Json = {"nodes": budget.nodes}
        if budget.reasons:
            entry["reasons"] = list(budget.reasons)
        if budget.schedule:
            entry["schedule"] = budget.schedule
        if budget.duration:
            entry["duration"] = budget.duration
        budgets.append(entry)
    metadata: Json = {"name": pool.name}
    if created:
        metadata["creationTimestamp"] = created
    template: Json = {"spec": spec}
    if pool.labels:
        template["metadata"] = {"labels": dict(pool.labels)}
    out: Json = {
        "apiVersion": API_VERSION,
        "kind": "NodePool",
        "metadata": metadata,
        "spec": {"template": template, "disruption": {"budgets": budgets}},
    }
    if not pool.limits.empty:
        out["spec"]["limits"] = _resources_json(pool.limits)
    if not pool.usage.empty:
        out["status"] = {"resources": _resources_json(pool.usage)}
    return out
