"""NodePools through the sandbox API server and the real adapter: the template fields eksup
decides placement on (labels, requirements, taints, startupTaints) read the same through the
fake and through the wire, and the adapter reads Karpenter's own v1 NodePool JSON.

The JSON shape is karpenter.sh/v1's: the NodePool example of aws/karpenter-provider-aws
website/content/en/docs/concepts/nodepools.md (spec.template.metadata.labels,
spec.template.spec.requirements / taints / startupTaints / nodeClassRef,
spec.disruption.budgets, spec.limits; status.resources as `kubectl get nodepool -o
jsonpath='{.items[0].status}'` shows it).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from shutil import which

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.adapters.kubernetes import karpenter_codec as codec
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.kube import (
    AmiSelectorTerm,
    DisruptionBudget,
    NodeClass,
    NodePool,
    PoolResources,
    SelectorRequirement,
    Taint,
    TaintEffect,
)
from upgrader.core.nodepool_shapes import nodepool_shape
from upgrader.sandbox.cluster.karpenter import install_karpenter

POOL = NodePool(
    "gpu",
    "default",
    (DisruptionBudget("20%"), DisruptionBudget("0", ("Empty",), "@daily", "10m")),
    labels={"team": "ml", "billing": "research"},
    requirements=(
        SelectorRequirement("karpenter.k8s.aws/instance-family", "In", ("p3", "g5")),
        SelectorRequirement("karpenter.sh/capacity-type", "In", ("on-demand",)),
        SelectorRequirement("company.com/team", "Exists"),
        SelectorRequirement("topology.kubernetes.io/zone", "NotIn", ("us-east-1c",)),
    ),
    taints=(Taint("nvidia.com/gpu", TaintEffect.NO_SCHEDULE, "true"),),
    startup_taints=(Taint("example.com/agent-not-ready", TaintEffect.NO_EXECUTE),),
    limits=PoolResources(1_000_000, 1000 * 2**30, 10),
)
# What the fake counts for the pool's one node (status.resources: an m5.xlarge's capacity).
USAGE = PoolResources(4000, 16 * 2**30, 1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for served in serve(tmp_path):
        karpenter = install_karpenter(served.cluster, served.clock, images={"ami-1": "1.29"})
        karpenter.add_node_class(NodeClass("default", (AmiSelectorTerm(id="ami-1"),), "AL2023"))
        karpenter.add_node_pool(POOL, nodes=1)
        karpenter.add_node_pool(NodePool("general", "default"), nodes=0)
        yield served


def test_the_adapter_reads_what_the_fake_holds(served: Served) -> None:
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))
    assert kube.list_node_pools() == served.cluster.list_node_pools()
    gpu = next(p for p in kube.list_node_pools() if p.name == "gpu")
    assert gpu == replace(POOL, usage=USAGE)


def test_the_fake_launches_nodes_from_the_template(served: Served) -> None:
    (node,) = served.cluster.list_nodes("karpenter.sh/nodepool=gpu")
    assert node.labels["team"] == "ml"
    assert node.labels["karpenter.k8s.aws/instance-family"] == "p3"
    assert node.taints == POOL.taints  # startupTaints are gone before pods land
    # The live node is one of the nodes the template describes.
    shape = nodepool_shape(POOL, [node])
    for key, value in node.labels.items():
        if key in shape.labels and key != "kubernetes.io/hostname":
            assert shape.labels[key] == value, key
        elif key in shape.ranges:
            assert shape.ranges[key].allows(value), key


def test_a_get_by_name_and_a_missing_pool(served: Served) -> None:
    base = f"{served.server.url}/apis/karpenter.sh/v1/nodepools"
    with urllib.request.urlopen(f"{base}/gpu", timeout=5) as response:
        body = json.loads(response.read())
    assert body["kind"] == "NodePool"
    assert codec.with_template(NodePool("gpu", "default"), body) == replace(
        POOL, budgets=(DisruptionBudget(),), usage=USAGE
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/spot", timeout=5)
    assert missing.value.code == 404


def test_the_adapter_reads_karpenters_own_json() -> None:
    # Shaped like the NodePool example in Karpenter's nodepools.md (v1).
    raw = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "default"},
        "spec": {
            "template": {
                "metadata": {"labels": {"billing-team": "my-team"}},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": "default",
                    },
                    "taints": [{"key": "example.com/special-taint", "effect": "NoSchedule"}],
                    "startupTaints": [{"key": "example.com/another-taint", "effect": "NoSchedule"}],
                    "requirements": [
                        {
                            "key": "karpenter.k8s.aws/instance-category",
                            "operator": "In",
                            "values": ["c", "m", "r"],
                            "minValues": 2,
                        },
                        {
                            "key": "karpenter.k8s.aws/instance-generation",
                            "operator": "Gt",
                            "values": ["2"],
                        },
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                        # Karpenter's own operators (scheduling.md: Gte, Lte).
                        {
                            "key": "karpenter.k8s.aws/instance-memory",
                            "operator": "Gte",
                            "values": ["8192"],
                        },
                        {"key": "broken"},  # no operator: skipped, not a crash
                    ],
                },
            },
            "disruption": {"budgets": [{"nodes": "10%"}]},
            "limits": {"cpu": "1000", "memory": "1000Gi", "nodes": 20, "nvidia.com/gpu": 2},
        },
        "status": {"resources": {"cpu": "16", "memory": "65505072Ki", "nodes": "4", "pods": "232"}},
    }
    pool = codec.with_template(NodePool("default", "default"), raw)
    assert pool.labels == {"billing-team": "my-team"}
    assert pool.taints == (Taint("example.com/special-taint", TaintEffect.NO_SCHEDULE),)
    assert pool.startup_taints == (Taint("example.com/another-taint", TaintEffect.NO_SCHEDULE),)
    assert pool.requirements == (
        SelectorRequirement("karpenter.k8s.aws/instance-category", "In", ("c", "m", "r")),
        SelectorRequirement("karpenter.k8s.aws/instance-generation", "Gt", ("2",)),
        SelectorRequirement("kubernetes.io/arch", "In", ("amd64",)),
        SelectorRequirement("karpenter.k8s.aws/instance-memory", "Gte", ("8192",)),
    )
    assert pool.limits == PoolResources(1_000_000, 1000 * 2**30, 20)
    assert pool.usage == PoolResources(16_000, 65505072 * 1024, 4)
    # And back: the server's JSON decodes to the same pool.
    again = codec.with_template(NodePool("default", "default"), codec.node_pool_json(pool))
    assert again == pool


@pytest.mark.skipif(which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_lists_nodepools(served: Served) -> None:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(served.kubeconfig), "get", "nodepools", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.split() == ["nodepool.karpenter.sh/general", "nodepool.karpenter.sh/gpu"]
