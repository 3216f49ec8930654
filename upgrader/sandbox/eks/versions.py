"""The sandbox's `DescribeClusterVersions`: the EKS calendar as AWS answers it, on virtual time.

AWS lists the versions in standard or extended support (all of them with `includeAll`), each
with its dates and `versionStatus` as of now, and marks one `defaultVersion`: what CreateCluster
uses without a version. The sandbox computes the same from `data/cluster_versions.yaml` and its
clock, so a plan made on the sandbox judges versions by the sandbox's date, as it must.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from moto.eks.exceptions import InvalidParameterException

from upgrader.sandbox.eks.catalog import ami_releases, minor

STANDARD = "STANDARD_SUPPORT"
EXTENDED = "EXTENDED_SUPPORT"
UNSUPPORTED = "UNSUPPORTED"
_LEGACY_STATUS = {STANDARD: "standard-support", EXTENDED: "extended-support"}
_MAX_RESULTS = 100


@dataclass(frozen=True)
class CalendarEntry:
    version: str
    release: dt.date
    end_of_standard: dt.date
    end_of_extended: dt.date

    def status_on(self, today: dt.date) -> str | None:
        """None before the release: AWS does not list a version it has not released."""
        if today < self.release:
            return None
        if today < self.end_of_standard:
            return STANDARD
        return EXTENDED if today < self.end_of_extended else UNSUPPORTED


@cache
def calendar() -> tuple[CalendarEntry, ...]:
    text = resources.files("upgrader.sandbox").joinpath("data", "cluster_versions.yaml")
    raw: Mapping[str, Mapping[str, dt.date]] = yaml.safe_load(text.read_text("utf-8"))
    runnable = set(ami_releases())
    entries = tuple(
        CalendarEntry(version, d["release"], d["end_of_standard"], d["end_of_extended"])
        for version, d in raw.items()
        if version in runnable
    )
    return tuple(sorted(entries, key=lambda e: minor(e.version)))


def _epoch(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


def describe_cluster_versions(
    now: float,
    *,
    include_all: bool = False,
    default_only: bool = False,
    versions: Sequence[str] = (),
    version_status: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """(the page of versions, the next token or None), newest first as AWS lists them."""
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    listed = [(e, s) for e in calendar() if (s := e.status_on(today)) is not None]
    standard = [e.version for e, s in listed if s == STANDARD]
    # AWS's default trails the newest release by one minor once there are two to choose from.
    default = standard[-2] if len(standard) > 1 else (standard[-1] if standard else None)
    rows = [
        {
            "clusterVersion": entry.version,
            "clusterType": "eks",
            "defaultPlatformVersion": platform_version(entry.version, now),
            "defaultVersion": entry.version == default,
            "releaseDate": _epoch(entry.release),
            "endOfStandardSupportDate": _epoch(entry.end_of_standard),
            "endOfExtendedSupportDate": _epoch(entry.end_of_extended),
            "status": _LEGACY_STATUS.get(status, "unsupported"),
            "versionStatus": status,
            "kubernetesPatchVersion": _patch(entry.version),
        }
        for entry, status in reversed(listed)
        if (include_all or status != UNSUPPORTED)
        and (not default_only or entry.version == default)
        and (not versions or entry.version in versions)
        and (version_status is None or status == version_status)
    ]
    return _page(rows, max_results, next_token)


# How often the sandbox's EKS publishes a new platform version of a minor. AWS gives no schedule
# ("Amazon EKS releases new platform versions periodically", docs: platform-versions.html); its
# published history shows one every few weeks, so four weeks is the sandbox's assumption.
PLATFORM_RELEASE_DAYS = 28


def platform_version(version: str, now: float) -> str:
    """The latest platform version of `version` on the date `now`: eks.1 on the minor's release
    day, one more every PLATFORM_RELEASE_DAYS. EKS creates clusters at it and moves existing
    clusters of that minor up to it by itself (docs: platform-versions.html), so it is also
    what a cluster shows after a version update, a rollback, or simply time passing."""
    entry = next((e for e in calendar() if e.version == version), None)
    if entry is None:
        return "eks.1"
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    return f"eks.{1 + max(0, (today - entry.release).days) // PLATFORM_RELEASE_DAYS}"


def _patch(version: str) -> str:
    release = ami_releases()[version].al2023  # "1.29.15-20251209"
    return release.split("-", 1)[0]


def _page(
    rows: list[dict[str, Any]], max_results: int | None, next_token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    size = _MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= size <= _MAX_RESULTS:
        raise InvalidParameterException(f"maxResults must be between 1 and {_MAX_RESULTS}")
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise InvalidParameterException("The nextToken is not valid") from None
    end = start + size
    return rows[start:end], (str(end) if end < len(rows) else None)
