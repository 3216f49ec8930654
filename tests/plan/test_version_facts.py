"""Version facts from AWS first (DescribeClusterVersions), the packaged data file as fallback;
`--to` as MAJOR.MINOR, `next` or `latest`."""

from __future__ import annotations

import datetime as dt

import pytest

from upgrader.core.aws import EksVersionFacts
from upgrader.core.errors import PermissionDeniedError, UserError
from upgrader.plan.version_facts import (
    FROM_AWS,
    FROM_FILE,
    VersionFacts,
    read_version_facts,
    resolve_target,
)
from upgrader.versions import SupportStatus, default_catalog

ON = dt.date(2026, 1, 1)


def facts(version: str, standard_end: dt.date, status: str = "STANDARD_SUPPORT") -> EksVersionFacts:
    info = default_catalog().get(version)
    return EksVersionFacts(
        version,
        status,
        info.eks_release,
        standard_end,
        info.end_of_extended_support,
    )


class Answers:
    def __init__(self, answer: list[EksVersionFacts] | Exception) -> None:
        self.answer = answer

    def describe_cluster_versions(self) -> list[EksVersionFacts]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_aws_dates_win_and_each_disagreement_is_named() -> None:
    catalog = default_catalog()
    later = catalog.get("1.31").end_of_standard_support + dt.timedelta(days=30)  # type: ignore[operator]
    got = read_version_facts(Answers([facts("1.31", later)]), catalog)  # type: ignore[arg-type]
    assert got.source == FROM_AWS
    assert got.catalog.get("1.31").end_of_standard_support == later
    assert catalog.get("1.31").end_of_standard_support != later  # the file itself is untouched
    assert len(got.notes) == 1
    assert "1.31 end of standard support: AWS says" in got.notes[0]
    # Decisions follow AWS: on the file's end date, AWS's calendar still says standard.
    day = catalog.get("1.31").end_of_standard_support
    assert got.catalog.support_status("1.31", day) is SupportStatus.STANDARD  # type: ignore[arg-type]
    assert catalog.support_status("1.31", day) is SupportStatus.EXTENDED  # type: ignore[arg-type]


def test_agreement_says_nothing() -> None:
    catalog = default_catalog()
    same = catalog.get("1.32").end_of_standard_support
    got = read_version_facts(Answers([facts("1.32", same)]), catalog)  # type: ignore[arg-type]
    assert (got.source, got.notes) == (FROM_AWS, ())


def test_a_version_the_file_does_not_know_is_reported() -> None:
    unknown = EksVersionFacts(
        "1.99", "STANDARD_SUPPORT", dt.date(2031, 1, 1), dt.date(2032, 3, 1), dt.date(2033, 3, 1)
    )
    got = read_version_facts(Answers([unknown]), default_catalog())  # type: ignore[arg-type]
    assert got.source == FROM_AWS
    assert "EKS offers Kubernetes 1.99" in got.notes[0]
    assert "update the file" in got.notes[0]


def test_a_denied_read_falls_back_to_the_file_and_says_why() -> None:
    denied = PermissionDeniedError("AccessDenied", "eks:DescribeClusterVersions")
    got = read_version_facts(Answers(denied), default_catalog())  # type: ignore[arg-type]
    assert got.source == FROM_FILE
    assert got.catalog is default_catalog()
    assert "could not be read" in got.notes[0]
    assert "eks_versions.yaml" in got.summary


@pytest.mark.parametrize(
    ("to", "expected"), [("1.31", "1.31"), ("next", "1.30"), (" 1.30 ", "1.30")]
)
def test_targets(to: str, expected: str) -> None:
    assert resolve_target(to, "1.29", VersionFacts(default_catalog(), FROM_FILE), ON) == expected


def test_latest_is_the_newest_version_live_on_the_day() -> None:
    file_facts = VersionFacts(default_catalog(), FROM_FILE)
    # 1.35 reached EKS on 2026-01-27: on 2026-01-01 the newest is 1.34.
    assert resolve_target("latest", "1.29", file_facts, ON) == "1.34"
    assert resolve_target("latest", "1.29", file_facts, dt.date(2026, 12, 6)) == "1.36"


@pytest.mark.parametrize(
    ("to", "hint"), [("1.31.2", "--to 1.31"), ("v1.30", "--to 1.30"), ("newest", "--to 1.31")]
)
def test_anything_but_a_minor_is_refused_with_a_hint(to: str, hint: str) -> None:
    with pytest.raises(UserError, match=r"MAJOR\.MINOR") as refused:
        resolve_target(to, "1.29", VersionFacts(default_catalog(), FROM_FILE), ON)
    assert hint in str(refused.value)
