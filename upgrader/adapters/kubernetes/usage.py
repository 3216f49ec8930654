"""Reading which deprecated APIs a cluster still uses: the API server metric and Helm releases.

Both are plain text formats the kubernetes client does not model, so they are parsed here, as
pure functions the tests feed directly:
- `apiserver_requested_deprecated_apis` in the Prometheus text exposition of GET /metrics;
- Helm 3 release Secrets (type helm.sh/release.v1): `data.release` is base64 (Kubernetes) of
  base64 (Helm) of gzip of the release JSON, whose `manifest` is what Helm applied.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterable
from typing import Any

from upgrader.core.kube import DeprecatedApiRequest, HelmRelease
from upgrader.core.loaders import json_depth_error

METRIC = "apiserver_requested_deprecated_apis"
_SERIES = re.compile(r"^" + METRIC + r"\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_deprecated_api_metric(text: str) -> list[DeprecatedApiRequest]:
    found: set[DeprecatedApiRequest] = set()
    for line in text.splitlines():
        match = _SERIES.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match.group("labels")))
        found.add(
            DeprecatedApiRequest(
                group=labels.get("group", ""),
                version=labels.get("version", ""),
                resource=labels.get("resource", ""),
                subresource=labels.get("subresource", ""),
                removed_release=labels.get("removed_release", ""),
            )
        )
    return sorted(found, key=lambda r: (r.group, r.version, r.resource, r.subresource))


# Bytes. A Secret holds at most 1 MiB; gzip can inflate that a thousandfold (a "zip bomb" in a
# Secret anyone with create rights on Secrets could label owner=helm). Real releases are far
# below this, even with large CRDs in their manifests.
RELEASE_LIMIT = 64 * 1024 * 1024
_RELEASE_DEPTH = 200  # a release's JSON (values included) is never nested this deep


def decode_helm_release(secret_data: str) -> dict[str, Any] | None:
    """The release JSON from a Secret's `data.release`, or None when it is not one (or one
    that would inflate or nest past the limits: skipped, like any unreadable release)."""
    try:
        helm_encoded = base64.b64decode(secret_data)
        compressed = base64.b64decode(helm_encoded)
        raw = _gunzip(compressed) if compressed[:2] == b"\x1f\x8b" else compressed
        if raw is None:
            return None
        text = raw.decode("utf-8")
        if json_depth_error(text, _RELEASE_DEPTH) is not None:
            return None
        release = json.loads(text)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError, RecursionError):
        return None
    return release if isinstance(release, dict) else None


def _gunzip(data: bytes) -> bytes | None:
    """gzip-decompressed `data`, or None past RELEASE_LIMIT (never inflated further)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, RELEASE_LIMIT + 1)
    if len(out) > RELEASE_LIMIT or inflater.unconsumed_tail:
        return None
    return out


def deployed_releases(releases: Iterable[dict[str, Any]]) -> list[HelmRelease]:
    """The newest deployed revision of each release (older revisions are history)."""
    newest: dict[tuple[str, str], HelmRelease] = {}
    for release in releases:
        info = release.get("info") or {}
        if info.get("status") != "deployed":
            continue
        item = HelmRelease(
            namespace=str(release.get("namespace", "")),
            name=str(release.get("name", "")),
            revision=int(release.get("version", 0)),
            manifest=str(release.get("manifest", "")),
        )
        key = (item.namespace, item.name)
        if key not in newest or newest[key].revision < item.revision:
            newest[key] = item
    return sorted(newest.values(), key=lambda r: (r.namespace, r.name))
