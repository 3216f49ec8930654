"""Removed APIs still in use, found through the API server metric and Helm releases."""

from __future__ import annotations

import datetime as dt

from upgrader.core.errors import PermissionDeniedError
from upgrader.core.kube import DeprecatedApiRequest, HelmRelease
from upgrader.plan.checks import CheckContext, CheckStatus, run_checks
from upgrader.plan.discovery import discover
from upgrader.plan.snapshot import UsageSource
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.world import Sandbox
from upgrader.versions import default_catalog

PSP_CHART = """\
---
# Source: old-chart/templates/psp.yaml
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
"""


def removed_apis(world: Sandbox, kube: FakeCluster, target: str) -> list[object]:
    catalog = default_catalog()
    snap = discover("c", world.aws, world.aws, kube, world.clock, target_version=target)
    context = CheckContext(target=target, catalog=catalog, today=dt.date(2026, 1, 1))
    return [f for f in run_checks(snap, context) if f.check_id == "removed-apis"]


def make_world(world: Sandbox) -> FakeCluster:
    world.create_cluster("c", "1.24", world.create_network())
    return world.kube("c")


def test_a_helm_release_with_a_removed_api_blocks_the_hop_that_removes_it() -> None:
    with Sandbox() as world:
        kube = make_world(world)
        kube.add_helm_release(HelmRelease("security", "old-chart", 3, PSP_CHART))
        (finding,) = removed_apis(world, kube, "1.25")
        assert finding.status is CheckStatus.FAIL
        assert "PodSecurityPolicy" in finding.message
        assert "old-chart" in finding.message


def test_the_api_server_metric_shows_clients_of_removed_apis() -> None:
    with Sandbox() as world:
        kube = make_world(world)
        kube.record_deprecated_api_request(
            DeprecatedApiRequest("policy", "v1beta1", "podsecuritypolicies", "", "1.25")
        )
        (finding,) = removed_apis(world, kube, "1.25")
        assert finding.status is CheckStatus.FAIL
        assert "podsecuritypolicies" in finding.message


def test_both_sources_read_and_clean_is_a_pass() -> None:
    with Sandbox() as world:
        kube = make_world(world)
        kube.add_helm_release(HelmRelease("shop", "web", 1, PSP_CHART.split("---")[2]))
        (finding,) = removed_apis(world, kube, "1.25")
        assert finding.status is CheckStatus.PASS


def test_a_denied_metric_read_is_not_assessed_not_a_pass() -> None:
    with Sandbox() as world:
        kube = make_world(world)

        def deny(action: object) -> None:
            raise PermissionDeniedError("forbidden", "get /metrics")

        kube.add_reactor("get", "metrics", deny)
        snap = discover("c", world.aws, world.aws, kube, world.clock, target_version="1.25")
        assert UsageSource.API_SERVER not in snap.api_usage_sources
        assert UsageSource.HELM in snap.api_usage_sources
        (finding,) = [
            f
            for f in run_checks(
                snap,
                CheckContext(target="1.25", catalog=default_catalog(), today=dt.date(2026, 1, 1)),
            )
            if f.check_id == "removed-apis"
        ]
        assert finding.status is CheckStatus.NOT_ASSESSED
