"""The real adapter's Karpenter calls, through a scripted transport: paths, the merge patch,
and how NodePools, EC2NodeClasses and NodeClaims are read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient, Configuration

from tests.adapters.kubernetes.test_client import FakeResponse, FakeTransport
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import AmiSelectorTerm, DisruptionBudget, NodeClaim
from upgrader.sandbox.clock import VirtualClock


class HeaderTransport(FakeTransport):
    def __init__(self) -> None:
        super().__init__()
        self.headers: list[object] = []

    def request(
        self,
        method: str,
        url: str,
        headers: object = None,
        body: object = None,
        post_params: object = None,
        _request_timeout: object = None,
    ) -> FakeResponse:
        self.headers.append(headers)
        return super().request(method, url, headers, body, post_params, _request_timeout)


@pytest.fixture
def wire() -> HeaderTransport:
    return HeaderTransport()


@pytest.fixture
def kube(wire: HeaderTransport) -> Iterator[KubernetesCluster]:
    api_client = ApiClient(Configuration(host="https://k8s.example:6443"))
    api_client.rest_client = wire
    yield KubernetesCluster(api_client, clock=VirtualClock())
    assert wire.replies == [], "scripted replies left unused"


def test_node_pools_with_their_budgets(kube: KubernetesCluster, wire: HeaderTransport) -> None:
    wire.reply(
        200,
        {
            "items": [
                {
                    "metadata": {"name": "general"},
                    "spec": {
                        "template": {"spec": {"nodeClassRef": {"name": "default"}}},
                        "disruption": {
                            "budgets": [{"nodes": "20%"}, {"nodes": "0", "reasons": ["Empty"]}]
                        },
                    },
                },
                {"metadata": {"name": "batch"}, "spec": {}},
            ]
        },
    )
    general, batch = kube.list_node_pools()
    assert wire.requests[0].path == "/apis/karpenter.sh/v1/nodepools"
    assert general.node_class == "default"
    assert general.budgets == (DisruptionBudget("20%"), DisruptionBudget("0", ("Empty",)))
    assert general.drift_budget(10) == 2
    assert batch.budgets == (DisruptionBudget("10%"),)  # Karpenter's default
    assert batch.drift_budget(11) == 2  # rounds up


def test_no_karpenter_crds_lists_nothing(kube: KubernetesCluster, wire: HeaderTransport) -> None:
    wire.reply(404, {"kind": "Status", "code": 404, "message": "the server could not find it"})
    assert kube.list_node_pools() == []


def test_node_class_terms_and_resolved_amis(kube: KubernetesCluster, wire: HeaderTransport) -> None:
    wire.reply(
        200,
        {
            "metadata": {"name": "default"},
            "spec": {
                "amiFamily": "AL2023",
                "amiSelectorTerms": [{"id": "ami-1"}, {"tags": {"team": "x"}, "owner": "self"}],
            },
            # status.subnets as nodeclasses.md ("status.subnets") shows it: resolved id and
            # zone of each selected subnet.
            "status": {
                "amis": [{"id": "ami-1", "name": "al2023"}],
                "subnets": [
                    {"id": "subnet-0a462d98193ff9fac", "zone": "us-east-2b"},
                    {"id": "subnet-0322dfafd76a609b6", "zone": "us-east-2c"},
                    {"id": "subnet-0727ef01daf4ac9fe", "zone": "us-east-2b"},
                    {"id": "broken"},
                ],
            },
        },
    )
    node_class = kube.get_node_class("default")
    assert wire.requests[0].path == "/apis/karpenter.k8s.aws/v1/ec2nodeclasses/default"
    assert node_class.ami_selector_terms == (
        AmiSelectorTerm(id="ami-1"),
        AmiSelectorTerm(owner="self", tags={"team": "x"}),
    )
    assert node_class.ami_family == "AL2023"
    assert node_class.amis == ("ami-1",)
    assert node_class.alias == ""
    assert node_class.zones == ("us-east-2b", "us-east-2c")


def test_the_ami_patch_is_a_merge_patch_replacing_the_terms(
    kube: KubernetesCluster, wire: HeaderTransport
) -> None:
    wire.reply(
        200,
        {"metadata": {"name": "default"}, "spec": {"amiSelectorTerms": [{"id": "ami-2"}]}},
    )
    node_class = kube.patch_node_class_ami_selector("default", [AmiSelectorTerm(id="ami-2")])
    (request,) = wire.requests
    assert (request.method, request.path) == (
        "PATCH",
        "/apis/karpenter.k8s.aws/v1/ec2nodeclasses/default",
    )
    assert request.body == {"spec": {"amiSelectorTerms": [{"id": "ami-2"}]}}
    headers = wire.headers[0]
    assert isinstance(headers, dict)
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert node_class.ami_selector_terms == (AmiSelectorTerm(id="ami-2"),)


def test_patching_a_missing_node_class(kube: KubernetesCluster, wire: HeaderTransport) -> None:
    wire.reply(404, {"kind": "Status", "code": 404, "message": "not found"})
    with pytest.raises(NotFoundError, match="ec2nodeclasses"):
        kube.patch_node_class_ami_selector("gone", [AmiSelectorTerm(alias="al2023@latest")])


def test_node_claims_of_a_pool(kube: KubernetesCluster, wire: HeaderTransport) -> None:
    wire.reply(
        200,
        {
            "items": [
                {
                    "metadata": {
                        "name": "general-abc",
                        "labels": {"karpenter.sh/nodepool": "general"},
                        "deletionTimestamp": "2026-01-01T00:00:00Z",
                    },
                    "spec": {"nodeClassRef": {"name": "default"}},
                    "status": {
                        "nodeName": "ip-10-0-0-1.ec2.internal",
                        "imageID": "ami-1",
                        "conditions": [
                            {"type": "Ready", "status": "True"},
                            {"type": "Drifted", "status": "True"},
                        ],
                    },
                }
            ]
        },
    )
    (claim,) = kube.list_node_claims("general")
    request = wire.requests[0]
    assert request.path == "/apis/karpenter.sh/v1/nodeclaims"
    assert request.query["labelSelector"] == ["karpenter.sh/nodepool=general"]
    assert claim == NodeClaim(
        name="general-abc",
        node_pool="general",
        node_class="default",
        node_name="ip-10-0-0-1.ec2.internal",
        image_id="ami-1",
        ready=True,
        drifted=True,
        deleting=True,
    )
