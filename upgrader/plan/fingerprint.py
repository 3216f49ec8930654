"""The fingerprint of the cluster state a plan was made from, so `execute` can refuse a stale plan.

A plan is only right for the cluster it was made from: if someone upgraded a node group, added
one, or moved an add-on by hand since, the steps (and their idempotency checks) may do the wrong
thing. `execute` takes a fresh snapshot, calls `fingerprint` on it, and compares.

What goes in is exactly what the plan's steps depend on: the control plane's version, every
managed node group's name, version, AMI release and status, every
self-managed group's image, the add-ons' versions, and each node's name and kubelet version.
Pods are left out on purpose: they churn every minute, and no step's shape depends on them
(the drain re-reads them anyway). Facts are serialised as sorted, canonical JSON and hashed
with SHA-256, so the value is stable across runs, machines and listing orders.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

from upgrader.core.kube import Node
from upgrader.plan.snapshot import ClusterSnapshot

__all__ = ["ALGORITHM", "diff_facts", "fingerprint", "fingerprint_facts", "matches"]

ALGORITHM = "sha256"

Facts = dict[str, object]


def fingerprint_facts(snapshot: ClusterSnapshot) -> Facts:
    """The facts the fingerprint hashes, as plain JSON-able values (useful to diff two states)."""
    cluster = snapshot.cluster
    return {
        # Not the platform version: EKS moves every cluster to the latest platform version of
        # its minor by itself, every few weeks, without an update anyone asked for (docs:
        # platform-versions.html), and no step depends on it. In the fingerprint it would make
        # an approved plan stale for no change a reviewer could act on.
        "cluster": {"name": cluster.name, "version": cluster.version},
        "nodegroups": sorted(
            [g.name, g.version, g.release_version, g.status] for g in snapshot.nodegroups
        ),
        "self_managed_groups": sorted(
            [g.name, g.image_id or ""] for g in snapshot.self_managed_groups
        ),
        "fargate_profiles": sorted(p.name for p in snapshot.fargate_profiles),
        "addons": sorted([a.name, a.version] for a in snapshot.addons),
        "nodes": sorted([n.name, n.kubelet_version] for n in snapshot.nodes),
        # Cordons and taints decide where drained pods can go: a plan made before someone
        # cordoned or tainted a node by hand no longer describes the cluster.
        "node_scheduling": sorted(
            [n.name, _scheduling(n)] for n in snapshot.nodes if n.unschedulable or n.taints
        ),
    }


def _scheduling(node: Node) -> str:
    taints = sorted(f"{t.key}={t.value}:{t.effect.value}" for t in node.taints)
    return ",".join((["cordoned"] if node.unschedulable else []) + taints)


def fingerprint(snapshot: ClusterSnapshot) -> str:
    """ "sha256:<hex>" over `fingerprint_facts`; equal for equal states, whatever the order."""
    canonical = json.dumps(fingerprint_facts(snapshot), sort_keys=True, separators=(",", ":"))
    return f"{ALGORITHM}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def matches(plan_fingerprint: str, snapshot: ClusterSnapshot) -> bool:
    """Whether a plan made with `plan_fingerprint` still describes this (fresh) snapshot."""
    return plan_fingerprint == fingerprint(snapshot)


# Past this many names a change lists the first few and counts the rest: a replaced 200-node
# group must stay a one-line reason.
_NAMES_SHOWN = 3


def diff_facts(before: Facts, after: Facts) -> list[str]:
    """What changed between two `fingerprint_facts`, one short phrase per change, in the order
    a reviewer cares about: control plane, node groups, add-ons, Fargate, nodes."""
    changes: list[str] = []
    old_cluster, new_cluster = _mapping(before.get("cluster")), _mapping(after.get("cluster"))
    if old_cluster.get("version") != new_cluster.get("version"):
        changes.append(
            f"control plane now {new_cluster.get('version')}, "
            f"plan made at {old_cluster.get('version')}"
        )
    changes += _keyed(
        "managed node group",
        before.get("nodegroups"),
        after.get("nodegroups"),
        ("version", "AMI release", "status"),
    )
    changes += _keyed(
        "self-managed group",
        before.get("self_managed_groups"),
        after.get("self_managed_groups"),
        ("image",),
    )
    changes += _keyed("add-on", before.get("addons"), after.get("addons"), ("version",))
    changes += _names(
        "Fargate profile", before.get("fargate_profiles"), after.get("fargate_profiles")
    )
    changes += _keyed("node", before.get("nodes"), after.get("nodes"), ("kubelet",), summarise=True)
    changes += _keyed(
        "cordoned or tainted node",
        before.get("node_scheduling", []),
        after.get("node_scheduling", []),
        ("cordon/taints",),
        summarise=True,
    )
    return changes


def _mapping(value: object) -> dict[str, object]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _rows(value: object) -> dict[str, list[object]]:
    """[name, field, ...] rows keyed by name; tolerant of a hand-edited plan."""
    rows: dict[str, list[object]] = {}
    for row in value if isinstance(value, list) else []:
        if isinstance(row, list) and row:
            rows[str(row[0])] = row[1:]
    return rows


def _keyed(
    what: str,
    before: object,
    after: object,
    fields: Sequence[str],
    *,
    summarise: bool = False,
) -> list[str]:
    old, new = _rows(before), _rows(after)
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    moved = []
    for name in sorted(old.keys() & new.keys()):
        deltas = [
            f"{field} {a} -> {b}"
            for field, a, b in zip(fields, old[name], new[name], strict=False)
            if a != b
        ]
        if deltas:
            moved.append(f"{what} {name}: {', '.join(deltas)}")
    changes = []
    if added:
        changes.append(f"{_counted(what, added)} added: {_listed(added)}")
    if removed:
        changes.append(f"{_counted(what, removed)} removed: {_listed(removed)}")
    if summarise and len(moved) > _NAMES_SHOWN:
        changes.append(f"{len(moved)} {what}s changed, e.g. {moved[0]}")
    else:
        changes += moved
    return changes


def _names(what: str, before: object, after: object) -> list[str]:
    return _keyed(
        what,
        [[n] for n in before] if isinstance(before, list) else [],
        [[n] for n in after] if isinstance(after, list) else [],
        (),
    )


def _counted(what: str, names: Sequence[str]) -> str:
    return what if len(names) == 1 else f"{len(names)} {what}s"


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:_NAMES_SHOWN])
    rest = len(names) - _NAMES_SHOWN
    return shown + (f" and {rest} more" if rest > 0 else "")
