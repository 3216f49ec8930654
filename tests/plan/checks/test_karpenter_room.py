"""karpenter-placement, room part: requests against the largest node a NodePool may launch, and
its `spec.limits` against what drift adds while the old nodes stand
(upgrader/core/nodepool_room.py).

Karpenter's rules (aws/karpenter-provider-aws website/content/en/docs/concepts/):
- nodepools.md, "spec.limits": "If a limit has been exceeded, nodes provisioning is prevented
  until some nodes have been terminated"; `limits.nodes` "constrains the maximum number of nodes
  during scaling operations or drift replacement"; usage is the pool's status.resources;
- disruption.md, "Disruption Controller": "Pre-spin any replacement nodes needed ... and wait
  for them to become ready" before the old node is deleted: old and new count together;
- scheduling.md: "Instance type selection math only uses requests"; the well-known labels
  karpenter.k8s.aws/instance-cpu (vCPUs) and instance-memory (MiB).
The scheduler's NodeResourcesFit filter refuses a node whose allocatable is below the pod's
requests (kubernetes pkg/scheduler/framework/plugins/noderesources/fit.go).
"""

from __future__ import annotations

from dataclasses import replace

from tests.plan.checks.factories import node, pod, run, snapshot
from upgrader.core.kube import (
    NodeAffinity,
    NodePool,
    PoolResources,
    SelectorRequirement,
)
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.findings import Finding
from upgrader.plan.snapshot import ClusterSnapshot, InstanceTypeInfo

CHECK = "karpenter-placement"
GIB = 2**30
NODES = tuple(
    node(f"k{i}", group=None, karpenter_pool="general", cpu="4", memory="16Gi") for i in range(2)
)


def _failures(snap: ClusterSnapshot) -> list[Finding]:
    return [f for f in run(CHECK, snap) if f.status is not CheckStatus.PASS]


def _pool(*requirements: SelectorRequirement, **fields: object) -> NodePool:
    return NodePool("general", "default", requirements=requirements, **fields)  # type: ignore[arg-type]


def test_a_pod_larger_than_any_instance_the_pool_allows_blocks_the_plan() -> None:
    """instance-cpu Lt 5: at most 4 vCPUs; a pod asking 6 CPUs fits no node the pool launches
    (it runs today on a node launched before the requirement changed)."""
    big = pod("batch-1", "jobs", node="k0", cpu="6", memory="1Gi")
    pool = _pool(SelectorRequirement("karpenter.k8s.aws/instance-cpu", "Lt", ("5",)))
    (finding,) = _failures(snapshot(nodes=NODES, pods=(big,), node_pools=(pool,)))
    assert (finding.status, finding.severity) == (CheckStatus.FAIL, Severity.ERROR)
    assert finding.objects == ("jobs/web-5d9f", "nodepool/general")
    assert "fit no node its NodePools may launch" in finding.message
    assert "cpu 6000m > 4000m" in finding.message
    assert "karpenter.k8s.aws/instance-cpu Lt 5" in finding.message
    assert "instance-cpu" in finding.remedy


def test_karpenters_lte_operator_bounds_the_size_too() -> None:
    """Karpenter adds Gte and Lte to the requirement operators (scheduling.md); Lte 4 on
    instance-cpu is at most 4 vCPUs. A pod selecting instance-cpu Gt 8 by affinity finds no
    node of that pool either (the NodeAffinity rule on a label range)."""
    big = pod("batch-1", "jobs", node="k0", cpu="6", memory="1Gi")
    pool = _pool(SelectorRequirement("karpenter.k8s.aws/instance-cpu", "Lte", ("4",)))
    (finding,) = _failures(snapshot(nodes=NODES, pods=(big,), node_pools=(pool,)))
    assert "cpu 6000m > 4000m" in finding.message
    assert "karpenter.k8s.aws/instance-cpu Lte 4" in finding.message
    wide = _pool(SelectorRequirement("karpenter.k8s.aws/instance-cpu", "Gte", ("8",)))
    assert not _failures(snapshot(nodes=NODES, pods=(big,), node_pools=(wide,)))
    small = pod("small-1", "jobs", node="k0", cpu="1", memory="1Gi")
    wants = NodeAffinity(((SelectorRequirement("karpenter.k8s.aws/instance-cpu", "Gt", ("8",)),),))
    picky = replace(small, spec=replace(small.spec, node_affinity=wants))
    (finding,) = _failures(snapshot(nodes=NODES, pods=(picky,), node_pools=(pool,)))
    assert "required node affinity karpenter.k8s.aws/instance-cpu Gt 8" in finding.message
    assert not _failures(snapshot(nodes=NODES, pods=(picky,), node_pools=(wide,)))


def test_instance_type_lists_are_sized_from_live_nodes_or_ec2_facts() -> None:
    """An `In` list of instance types: each one's size is a live node's allocatable or EC2's
    numbers; a type eksup knows nothing about leaves the size unknown (no finding)."""
    itype = "node.kubernetes.io/instance-type"
    live = tuple(
        node(
            n.name, group=None, karpenter_pool="general", memory="16Gi", labels={itype: "m5.xlarge"}
        )
        for n in NODES
    )
    hungry = pod("cache-1", "shop", node="k0", cpu="1", memory="20Gi")
    pool = _pool(SelectorRequirement(itype, "In", ("m5.xlarge",)))
    (finding,) = _failures(snapshot(nodes=live, pods=(hungry,), node_pools=(pool,)))
    assert "memory 20480Mi > 16384Mi" in finding.message
    assert "instance types m5.xlarge" in finding.message
    wider = _pool(SelectorRequirement(itype, "In", ("m5.xlarge", "r5.xlarge")))
    assert not _failures(snapshot(nodes=live, pods=(hungry,), node_pools=(wider,)))
    facts = {"r5.xlarge": InstanceTypeInfo("r5.xlarge", 4, 16 * 1024)}
    snap = snapshot(nodes=live, pods=(hungry,), node_pools=(wider,), instance_types=facts)
    (finding,) = _failures(snap)
    assert "instance types m5.xlarge, r5.xlarge" in finding.message


def test_a_big_pod_another_pool_takes_passes() -> None:
    big = pod("batch-1", "jobs", node="k0", cpu="6", memory="1Gi")
    small = _pool(SelectorRequirement("karpenter.k8s.aws/instance-cpu", "In", ("2", "4")))
    large = NodePool("large", "default")
    assert not _failures(snapshot(nodes=NODES, pods=(big,), node_pools=(small, large)))


def test_limits_with_no_room_for_a_replacement_block_the_plan() -> None:
    """Two nodes of 4 vCPUs count 8 CPUs against a limit of 8: Karpenter cannot pre-spin a
    replacement while they stand, and no other node has room for their pods."""
    webs = tuple(pod(f"web-{i}", "shop", node=f"k{i}", cpu="2", memory="1Gi") for i in range(2))
    full = PoolResources(8000, 32 * GIB, 2)
    pool = _pool(limits=PoolResources(cpu_millis=8000), usage=full)
    (finding,) = _failures(snapshot(nodes=NODES, pods=webs, node_pools=(pool,)))
    assert (finding.status, finding.severity) == (CheckStatus.FAIL, Severity.ERROR)
    assert finding.objects == ("shop/web-5d9f", "nodepool/general")
    assert "spec.limits (cpu 8000m) leave room for no replacement node" in finding.message
    assert "from status.resources; room cpu 0m" in finding.message
    assert "need cpu 2000m, memory 1024Mi" in finding.message
    assert "raise NodePool general's spec.limits" in finding.remedy


def test_limits_that_leave_room_or_spare_nodes_pass() -> None:
    webs = tuple(pod(f"web-{i}", "shop", node=f"k{i}", cpu="2", memory="1Gi") for i in range(2))
    usage = PoolResources(8000, 32 * GIB, 2)
    roomy = _pool(limits=PoolResources(cpu_millis=12000), usage=usage)
    assert not _failures(snapshot(nodes=NODES, pods=webs, node_pools=(roomy,)))
    # limits.nodes: a third node is allowed.
    nodes_ok = _pool(limits=PoolResources(nodes=3), usage=usage)
    assert not _failures(snapshot(nodes=NODES, pods=webs, node_pools=(nodes_ok,)))
    nodes_full = _pool(limits=PoolResources(nodes=2), usage=usage)
    (finding,) = _failures(snapshot(nodes=NODES, pods=webs, node_pools=(nodes_full,)))
    assert "room nodes 0" in finding.message
    # A node outside the pool with room takes a drifting node's pods without a new node.
    full = _pool(limits=PoolResources(cpu_millis=8000), usage=usage)
    spare = node("n1", cpu="4", memory="16Gi")
    assert not _failures(snapshot(nodes=(*NODES, spare), pods=webs, node_pools=(full,)))


def test_without_status_resources_the_live_nodes_allocatable_counts() -> None:
    webs = tuple(pod(f"web-{i}", "shop", node=f"k{i}", cpu="2", memory="1Gi") for i in range(2))
    pool = _pool(limits=PoolResources(cpu_millis=9000))
    (finding,) = _failures(snapshot(nodes=NODES, pods=webs, node_pools=(pool,)))
    assert "from their allocatable, at least; room cpu 1000m" in finding.message
