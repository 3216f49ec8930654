from __future__ import annotations

import base64
import gzip
import json

import pytest

from upgrader.adapters.kubernetes import usage
from upgrader.adapters.kubernetes.usage import (
    decode_helm_release,
    deployed_releases,
    parse_deprecated_api_metric,
)
from upgrader.core.kube import DeprecatedApiRequest

METRICS = "\n".join(
    [
        "# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs requested",
        "# TYPE apiserver_requested_deprecated_apis gauge",
        'apiserver_requested_deprecated_apis{group="policy",removed_release="1.25",'
        'resource="podsecuritypolicies",subresource="",version="v1beta1"} 1',
        'apiserver_requested_deprecated_apis{group="",removed_release="",'
        'resource="componentstatuses",subresource="",version="v1"} 1',
        'apiserver_request_total{code="200"} 7',
    ]
)


def test_the_metric_lists_each_deprecated_api_once() -> None:
    assert parse_deprecated_api_metric(METRICS) == [
        DeprecatedApiRequest("", "v1", "componentstatuses"),
        DeprecatedApiRequest("policy", "v1beta1", "podsecuritypolicies", "", "1.25"),
    ]
    assert parse_deprecated_api_metric(METRICS)[1].group_version == "policy/v1beta1"
    assert parse_deprecated_api_metric("") == []


def secret_data(release: dict[str, object]) -> str:
    helm = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return base64.b64encode(helm).decode()


def test_helm_release_secrets_decode_to_the_newest_deployed_revision() -> None:
    releases = [
        {
            "name": "web",
            "namespace": "shop",
            "version": 1,
            "info": {"status": "superseded"},
            "manifest": "old",
        },
        {
            "name": "web",
            "namespace": "shop",
            "version": 2,
            "info": {"status": "deployed"},
            "manifest": "new",
        },
        {
            "name": "db",
            "namespace": "shop",
            "version": 4,
            "info": {"status": "failed"},
            "manifest": "x",
        },
    ]
    decoded = [decode_helm_release(secret_data(r)) for r in releases]
    assert all(d is not None for d in decoded)
    (web,) = deployed_releases(d for d in decoded if d is not None)
    assert (web.namespace, web.name, web.revision, web.manifest) == ("shop", "web", 2, "new")


def test_a_secret_that_is_not_a_release_is_skipped() -> None:
    assert decode_helm_release("not base64 !!") is None
    assert decode_helm_release(base64.b64encode(b"plain").decode()) is None


def test_a_release_that_inflates_past_the_limit_is_skipped_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A gzip bomb in a Secret labelled owner=helm (issue 12, item 5): never inflated past the
    # limit, skipped like any unreadable release.
    monkeypatch.setattr(usage, "RELEASE_LIMIT", 1000)
    bomb = base64.b64encode(base64.b64encode(gzip.compress(b'{"a": "' + b"0" * 5000 + b'"}')))
    assert decode_helm_release(bomb.decode()) is None
    small = base64.b64encode(base64.b64encode(gzip.compress(b'{"name": "web"}')))
    assert decode_helm_release(small.decode()) == {"name": "web"}


def test_a_release_nested_too_deep_is_skipped() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    data = base64.b64encode(base64.b64encode(gzip.compress(deep))).decode()
    assert decode_helm_release(data) is None
