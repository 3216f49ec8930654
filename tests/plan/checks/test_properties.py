"""Invariants the checks must keep for any input, not just the hand-picked ones."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.plan.checks.factories import context, daemon_pod, node, pod, run, snapshot
from upgrader.core.kube import parse_cpu
from upgrader.plan.checks import CheckStatus, Severity, suppress
from upgrader.plan.checks.config import Suppression
from upgrader.plan.checks.findings import fail
from upgrader.versions import KubeVersion, default_catalog

CATALOG = default_catalog()


@settings(max_examples=60, deadline=None)
@given(
    current=st.integers(min_value=24, max_value=35),
    hops=st.integers(min_value=1, max_value=4),
    behind=st.integers(min_value=0, max_value=5),
)
def test_a_trailing_node_passes_both_skew_checks_only_if_skew_holds_at_every_hop(
    current: int, hops: int, behind: int
) -> None:
    target = min(current + hops, 36)
    if target <= current:
        return
    kubelet = f"v1.{current - behind}.0"
    snap = snapshot(f"1.{current}", nodes=(node("sm", group=None, kubelet=kubelet),))
    ctx = context(f"1.{target}")
    tripped = any(
        f.status is CheckStatus.FAIL
        for check_id in ("kubelet-skew", "kubelet-skew-hops")
        for f in run(check_id, snap, ctx)
    )
    path = [f"1.{v}" for v in range(current, target + 1)]
    holds = all(CATALOG.kubelet_skew_ok(KubeVersion(1, current - behind), v) for v in path)
    assert tripped == (not holds)


@settings(max_examples=100, deadline=None)
@given(
    objects=st.lists(st.sampled_from(["a/x", "a/y", "b/x", "kube-system/dns", "c/z"]), min_size=1),
    glob=st.sampled_from(["*", "a/*", "*/x", "kube-system/*", "nothing"]),
)
def test_suppression_splits_objects_without_losing_any(objects: list[str], glob: str) -> None:
    finding = fail("single-replica", Severity.WARNING, "few replicas", objects)
    result = suppress([finding], [Suppression(id="single-replica", objects=glob)])
    assert sorted(o for f in result for o in f.objects) == sorted(objects)
    for part in result:
        assert all(fnmatchcase(o, glob) == part.suppressed for o in part.objects)


@settings(max_examples=60, deadline=None)
@given(
    node_cpus=st.lists(st.sampled_from(["2", "4", "8"]), min_size=1, max_size=6),
    pod_cpus=st.lists(st.sampled_from(["100m", "250m", "500m", "1", "2", "3"]), max_size=40),
)
def test_capacity_never_passes_what_cannot_fit_in_total(
    node_cpus: list[str], pod_cpus: list[str]
) -> None:
    nodes = tuple(node(f"n{i}", cpu=cpu, memory="64Gi") for i, cpu in enumerate(node_cpus))
    daemons = tuple(daemon_pod(f"ds-{n.name}", n.name, cpu="100m", memory="1Mi") for n in nodes)
    pods = tuple(
        pod(f"p{i}", node=f"n{i % len(nodes)}", cpu=cpu, memory="1Mi")
        for i, cpu in enumerate(pod_cpus)
    )
    finding = run("capacity", snapshot(nodes=nodes, pods=(*daemons, *pods)))[0]
    free = sum(n.allocatable.cpu_millis - 100 for n in nodes)
    wanted = sum(parse_cpu(c) for c in pod_cpus)
    if wanted > free:
        assert finding.status is CheckStatus.FAIL
    if finding.status is CheckStatus.PASS:
        assert wanted <= free
    if max((parse_cpu(c) for c in pod_cpus), default=0) <= 1000 and wanted <= free // 2:
        # Small pods in half the room: any sane packing fits them.
        assert finding.status is CheckStatus.PASS
