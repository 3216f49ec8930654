from __future__ import annotations

import pytest

from tests.plan.checks.factories import context, only, run, snapshot
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.apis import resource_of
from upgrader.plan.snapshot import ApiUsage, UsageSource

# flowcontrol v1beta3 stops being served in 1.32 (from the version data).
FLOW_FROM_METRIC = ApiUsage(
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "flowschemas",
    UsageSource.API_SERVER,
    "apiserver_requested_deprecated_apis{resource=flowschemas}",
    detail="12 requests",
)
FLOW_FROM_HELM = ApiUsage(
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "FlowSchema",
    UsageSource.HELM,
    "platform/apf-tuning (revision 3) FlowSchema catch-all",
)
FLOW_FROM_MANIFEST = ApiUsage(
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "FlowSchema",
    UsageSource.MANIFEST,
    "apf/flows.yaml:1 FlowSchema catch-all",
)


def test_removed_api_in_use_from_every_source_blocks() -> None:
    snap = snapshot("1.31", api_usage=(FLOW_FROM_METRIC, FLOW_FROM_HELM, FLOW_FROM_MANIFEST))
    finding = only(run("removed-apis", snap, context("1.32")))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert finding.message.startswith(
        "flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema is not served from 1.32; use "
        "flowcontrol.apiserver.k8s.io/v1; still used (api-server, helm, manifest)"
    )
    assert finding.objects == (
        "api-server:apiserver_requested_deprecated_apis{resource=flowschemas}",
        "helm:platform/apf-tuning (revision 3) FlowSchema catch-all",
        "manifest:apf/flows.yaml:1 FlowSchema catch-all",
    )


@pytest.mark.parametrize("usage", [FLOW_FROM_METRIC, FLOW_FROM_HELM, FLOW_FROM_MANIFEST])
def test_each_source_alone_is_enough(usage: ApiUsage) -> None:
    finding = only(run("removed-apis", snapshot("1.31", api_usage=(usage,)), context("1.32")))
    assert finding.status is CheckStatus.FAIL


def test_apis_removed_after_the_target_or_before_the_current_version_pass() -> None:
    # Upgrading 1.32 -> 1.33: v1beta3 is already gone, so it is not this upgrade's problem.
    snap = snapshot("1.32", api_usage=(FLOW_FROM_MANIFEST,))
    assert only(run("removed-apis", snap, context("1.33"))).status is CheckStatus.PASS


def test_current_apis_pass() -> None:
    usage = ApiUsage("apps/v1", "Deployment", UsageSource.MANIFEST, "app.yaml:1 Deployment web")
    snap = snapshot("1.31", api_usage=(usage,))
    assert only(run("removed-apis", snap, context("1.32"))).status is CheckStatus.PASS


def test_an_unreadable_metric_is_not_assessed_never_passed() -> None:
    snap = snapshot("1.31", not_assessed={"deprecated-api-metrics": "get /metrics"})
    finding = only(run("removed-apis", snap, context("1.32")))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "deprecated-api-metrics" in finding.message
    assert "get /metrics" in finding.message


def test_unreadable_metric_still_reports_what_other_sources_found() -> None:
    snap = snapshot(
        "1.31",
        api_usage=(FLOW_FROM_HELM,),
        not_assessed={"deprecated-api-metrics": "get /metrics"},
    )
    findings = run("removed-apis", snap, context("1.32"))
    assert [f.status for f in findings] == [CheckStatus.FAIL, CheckStatus.NOT_ASSESSED]


def test_sources_never_read_are_not_assessed() -> None:
    snap = snapshot("1.31", api_usage_sources=frozenset({UsageSource.MANIFEST}))
    finding = only(run("removed-apis", snap, context("1.32")))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "from api-server and helm were not read" in finding.message


def test_broken_manifest_files_are_not_assessed() -> None:
    snap = snapshot("1.31", manifest_errors=("bad.yaml:3: not valid YAML: oops",))
    finding = only(run("removed-apis", snap, context("1.32")))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert finding.objects == ("bad.yaml:3: not valid YAML: oops",)


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        ("PodSecurityPolicy", "podsecuritypolicies"),
        ("Ingress", "ingresses"),
        ("FlowSchema", "flowschemas"),
        ("Gateway", "gateways"),
    ],
)
def test_resource_of(kind: str, resource: str) -> None:
    assert resource_of(kind) == resource
