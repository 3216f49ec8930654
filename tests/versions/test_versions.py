"""The version data and its rules: each test pins a fact or a rule, so a wrong edit fails."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from upgrader.core.errors import UserError
from upgrader.versions import (
    DATA_FILE,
    DATA_PACKAGE,
    KubeVersion,
    NodeKind,
    Severity,
    SupportStatus,
    VersionCatalog,
    VersionDataError,
    default_catalog,
)

CATALOG = default_catalog()
FILENAME = "upgrader/data/eks_versions.yaml"
DAY = dt.date(2026, 11, 23)  # the day the data was compiled


def _text() -> str:
    from importlib import resources

    return resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")


def _add_months(day: dt.date, months: int) -> dt.date:
    # Independent of the module's helper on purpose; every date in the data is on day <= 28.
    year, month = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + year, month=month + 1)


# --- KubeVersion --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["1.29", "1.29.3", "v1.29.3-eks-ae9a62a", "v1.29", " 1.29 ", "1.29.0+build.1"]
)
def test_parse_keeps_only_the_minor(text: str) -> None:
    assert KubeVersion.parse(text) == KubeVersion(1, 29)


@pytest.mark.parametrize(
    "text", ["", "1", "abc", "1.x", "1.029", "v", "1.29.3.4", "1.29 .3", "one.two", "-1.2"]
)
def test_malformed_versions_are_user_errors(text: str) -> None:
    with pytest.raises(UserError, match="malformed Kubernetes version"):
        KubeVersion.parse(text)
    assert KubeVersion.try_parse(text) is None


def test_versions_order_numerically_and_step_by_minor() -> None:
    assert KubeVersion.parse("1.9") < KubeVersion.parse("1.10")  # not string order
    assert KubeVersion.parse("1.29") + 1 == KubeVersion(1, 30)
    assert KubeVersion(1, 30) - 3 == KubeVersion(1, 27)
    assert KubeVersion(1, 30) - KubeVersion(1, 27) == 3
    assert str(KubeVersion(1, 30)) == "1.30"
    with pytest.raises(ValueError, match="majors differ"):
        _ = KubeVersion(2, 0) - KubeVersion(1, 30)


# --- the calendar -------------------------------------------------------------------------------


def test_every_minor_from_1_23_to_1_37_is_known_in_order() -> None:
    assert CATALOG.known_versions() == [f"1.{minor}" for minor in range(23, 38)]


@pytest.mark.parametrize("info", CATALOG.data.versions, ids=str)
def test_each_versions_dates_are_consistent(info: object) -> None:
    from upgrader.versions import VersionInfo

    assert isinstance(info, VersionInfo)
    if info.eks_release is not None:
        assert info.eks_release > info.upstream_release
    if info.end_of_standard_support is not None:
        assert info.eks_release is not None
        assert info.end_of_standard_support > info.eks_release
    if info.end_of_extended_support is not None:
        assert info.end_of_standard_support is not None
        assert info.end_of_standard_support < info.end_of_extended_support
    if info.upstream_end_of_life is not None:
        assert info.upstream_end_of_life > info.upstream_release


def test_lifecycle_formula_holds_except_where_documented_and_the_exceptions_are_real() -> None:
    policy = CATALOG.data.lifecycle
    assert (policy.standard_support_months, policy.extended_support_months) == (14, 12)
    checked = 0
    for info in CATALOG.data.versions:
        if info.eks_release is None or info.end_of_standard_support is None:
            continue
        formula_eos = _add_months(info.eks_release, 14)
        if info.version in policy.formula_exceptions:
            assert formula_eos != info.end_of_standard_support, f"{info.version}: stale exception"
        else:
            assert formula_eos == info.end_of_standard_support, str(info.version)
        # Extended support is 12 months after standard everywhere, exceptions included.
        assert info.end_of_extended_support == _add_months(info.end_of_standard_support, 12)
        checked += 1
    assert checked == 14
    assert sorted(map(str, policy.formula_exceptions)) == ["1.24", "1.25"]


def test_projected_dates_reproduce_a_published_version() -> None:
    info = CATALOG.get("1.36")
    assert info.eks_release is not None
    assert CATALOG.projected_support_dates(info.eks_release) == (
        info.end_of_standard_support,
        info.end_of_extended_support,
    )
    # Month-end clamping: no 31 February.
    assert CATALOG.projected_support_dates(dt.date(2025, 12, 31))[0] == dt.date(2027, 2, 28)


def test_pinned_calendar_facts() -> None:
    assert CATALOG.get("1.31").end_of_extended_support == dt.date(2026, 11, 26)
    assert CATALOG.get("1.34").end_of_standard_support == dt.date(2026, 12, 2)
    assert CATALOG.get("1.36").eks_release == dt.date(2026, 6, 2)
    assert CATALOG.get("1.24").end_of_standard_support == dt.date(2024, 1, 31)
    unreleased = CATALOG.get("1.37")
    assert unreleased.eks_release is None
    assert unreleased.end_of_standard_support is None
    assert not unreleased.verified


def test_support_status_on_the_compilation_day_matches_the_researched_table() -> None:
    expected = {f"1.{m}": SupportStatus.UNSUPPORTED for m in range(23, 31)}
    expected |= dict.fromkeys(("1.31", "1.32", "1.33"), SupportStatus.EXTENDED)
    expected |= dict.fromkeys(("1.34", "1.35", "1.36"), SupportStatus.STANDARD)
    expected["1.37"] = SupportStatus.UNKNOWN
    assert {v: CATALOG.support_status(v, DAY) for v in CATALOG.known_versions()} == expected
    assert CATALOG.available_versions(DAY) == ["1.31", "1.32", "1.33", "1.34", "1.35", "1.36"]


@pytest.mark.parametrize(
    ("version", "day", "status"),
    [
        ("1.36", dt.date(2026, 6, 1), SupportStatus.NOT_YET_AVAILABLE),
        ("1.36", dt.date(2026, 6, 2), SupportStatus.STANDARD),
        ("1.34", dt.date(2026, 12, 1), SupportStatus.STANDARD),
        # Extended billing starts 00:00 UTC on the end-of-standard date: that day is extended.
        ("1.34", dt.date(2026, 12, 2), SupportStatus.EXTENDED),
        ("1.31", dt.date(2026, 11, 25), SupportStatus.EXTENDED),
        ("1.31", dt.date(2026, 11, 26), SupportStatus.UNSUPPORTED),
        ("v1.30.4-eks-1234567", dt.date(2025, 1, 1), SupportStatus.STANDARD),
        ("1.37", dt.date(2030, 1, 1), SupportStatus.UNKNOWN),
        ("1.40", DAY, SupportStatus.UNKNOWN),
        ("1.22", DAY, SupportStatus.UNKNOWN),
    ],
)
def test_support_status_by_date(version: str, day: dt.date, status: SupportStatus) -> None:
    assert CATALOG.support_status(version, day) is status


def test_get_refuses_unknown_versions() -> None:
    with pytest.raises(UserError, match=r"1\.40 is not in eksup's version data"):
        CATALOG.get("1.40")
    assert CATALOG.is_known("v1.29.1")
    assert not CATALOG.is_known("1.22")


# --- hops ---------------------------------------------------------------------------------------


def test_hops_go_one_minor_at_a_time() -> None:
    assert CATALOG.hops("1.27", "1.30") == ["1.28", "1.29", "1.30"]
    assert CATALOG.hops("v1.29.8-eks-a737599", "1.30") == ["1.30"]
    assert CATALOG.hops("1.23", "1.36") == [f"1.{m}" for m in range(24, 37)]


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("1.30", "1.29", r"1\.29 is older than the current 1\.30: EKS cannot downgrade"),
        ("1.30", "1.30", r"already on 1\.30"),
        ("1.30", "v1.30.2", r"already on 1\.30"),
        ("1.22", "1.24", r"1\.22 is not in eksup's version data"),
        ("1.30", "1.40", r"1\.40 is not in eksup's version data"),
        ("1.30", "latest", "malformed Kubernetes version 'latest'"),
        ("1.x", "1.30", "malformed Kubernetes version '1.x'"),
        ("1.36", "1.37", r"1\.37 is not available on EKS"),
        ("1.30", "1.37", r"1\.37 is not available on EKS"),
    ],
)
def test_hops_refuse_impossible_requests_in_one_line(
    current: str, target: str, message: str
) -> None:
    with pytest.raises(UserError, match=message) as caught:
        CATALOG.hops(current, target)
    assert "\n" not in str(caught.value)


_AVAILABLE = [v for v in CATALOG.known_versions() if CATALOG.get(v).available_on_eks]


@given(st.lists(st.sampled_from(_AVAILABLE), min_size=2, max_size=2, unique=True))
def test_hops_are_strictly_plus_one_and_end_at_the_target(pair: list[str]) -> None:
    current, target = sorted(pair, key=KubeVersion.parse)
    steps = [KubeVersion.parse(v) for v in CATALOG.hops(current, target)]
    previous = KubeVersion.parse(current)
    for step in steps:
        assert step == previous + 1
        previous = step
    assert steps[-1] == KubeVersion.parse(target)


# --- skew ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control_plane", "skew"), [("1.23", 2), ("1.27", 2), ("1.28", 3), ("1.36", 3)]
)
def test_max_kubelet_skew(control_plane: str, skew: int) -> None:
    assert CATALOG.max_kubelet_skew(control_plane) == skew


@pytest.mark.parametrize(
    ("kubelet", "control_plane", "ok"),
    [
        ("1.25", "1.28", True),  # n-3 from 1.28
        ("1.24", "1.28", False),
        ("1.25", "1.27", True),  # n-2 before 1.28
        ("1.24", "1.27", False),  # n-3 before 1.28
        ("1.26", "1.29", True),
        ("1.25", "1.29", False),
        ("1.28", "1.28", True),
        ("1.29", "1.28", False),  # a kubelet is never ahead of the API server
        ("v1.25.16-eks-59bf375", "v1.28.15-eks-7f9249a", True),
    ],
)
def test_kubelet_skew(kubelet: str, control_plane: str, ok: bool) -> None:
    assert CATALOG.kubelet_skew_ok(kubelet, control_plane) is ok


@given(st.integers(18, 45), st.integers(0, 8))
def test_skew_matches_upstreams_kubelet_based_phrasing(plane_minor: int, behind: int) -> None:
    # Upstream (S8): up to 3 minors older, but a kubelet older than 1.25 only up to 2.
    kubelet = KubeVersion(1, plane_minor - behind)
    upstream_ok = behind <= (2 if kubelet < KubeVersion(1, 25) else 3)
    assert CATALOG.kubelet_skew_ok(kubelet, KubeVersion(1, plane_minor)) is upstream_ok


@pytest.mark.parametrize(
    ("kind", "kubelet", "control_plane", "allowed"),
    [
        (NodeKind.MANAGED_NODE_GROUP, "1.29", "1.29", True),
        (NodeKind.MANAGED_NODE_GROUP, "1.28", "1.29", False),
        (NodeKind.FARGATE, "1.28", "1.29", False),
        (NodeKind.FARGATE, "1.29", "1.29", True),
        (NodeKind.SELF_MANAGED, "1.27", "1.29", True),  # 1.27 is n-3 of the next 1.30
        (NodeKind.SELF_MANAGED, "1.26", "1.29", False),
        (NodeKind.HYBRID, "1.25", "1.26", True),  # n-2 of the next 1.27
        (NodeKind.HYBRID, "1.24", "1.26", False),
        (NodeKind.SELF_MANAGED, "1.30", "1.29", False),
    ],
)
def test_which_nodes_let_the_control_plane_move(
    kind: NodeKind, kubelet: str, control_plane: str, allowed: bool
) -> None:
    assert CATALOG.node_allows_control_plane_upgrade(kind, kubelet, control_plane) is allowed


# --- API removals -------------------------------------------------------------------------------


def _removed(current: str, target: str) -> set[tuple[str, str]]:
    return {(r.group_version, r.kind) for r in CATALOG.removals_between(current, target)}


def test_removals_1_24_to_1_26() -> None:
    removed = _removed("1.24", "1.26")
    assert {
        ("policy/v1beta1", "PodSecurityPolicy"),
        ("policy/v1beta1", "PodDisruptionBudget"),
        ("batch/v1beta1", "CronJob"),
        ("discovery.k8s.io/v1beta1", "EndpointSlice"),
        ("autoscaling/v2beta1", "HorizontalPodAutoscaler"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    } <= removed
    # The bounds: (current, target].
    assert ("client.authentication.k8s.io/v1alpha1", "ExecCredential") not in removed
    assert ("storage.k8s.io/v1beta1", "CSIStorageCapacity") not in removed


def test_removal_details() -> None:
    by_key = {(r.group_version, r.kind, str(r.removed_in)): r for r in CATALOG.data.api_removals}
    assert by_key["autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26"].replacement == (
        "autoscaling/v2"
    )
    assert by_key["policy/v1beta1", "PodSecurityPolicy", "1.25"].replacement is None
    assert by_key["policy/v1beta1", "PodDisruptionBudget", "1.25"].replacement == "policy/v1"
    assert by_key["storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27"].replacement == (
        "storage.k8s.io/v1"
    )
    assert ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "1.29") in by_key
    assert ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32") in by_key
    exec_credential = by_key["client.authentication.k8s.io/v1alpha1", "ExecCredential", "1.24"]
    assert not exec_credential.served
    # pluto is the only source for the 1.36 resource.k8s.io/v1beta1 removal.
    assert not by_key["resource.k8s.io/v1beta1", "ResourceClaim", "1.36"].verified


def test_removals_after_the_guide_snapshot_are_all_alpha_or_beta() -> None:
    late = [r for r in CATALOG.data.api_removals if r.removed_in > KubeVersion(1, 32)]
    assert late
    assert all(r.stability in ("alpha", "beta") for r in late)


def test_removals_edges() -> None:
    assert CATALOG.removals_between("1.25", "1.25") == []
    assert _removed("1.23", "1.24") == {("client.authentication.k8s.io/v1alpha1", "ExecCredential")}
    with pytest.raises(UserError, match="is older than"):
        CATALOG.removals_between("1.26", "1.24")


# --- gotchas ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "gotcha_id"),
    [
        ("1.23", "1.24", "dockershim-removed"),
        ("1.24", "1.25", "psp-removed"),
        ("1.25", "1.26", "vpc-cni-1-12"),
        ("1.29", "1.30", "mng-default-al2023"),
        ("1.31", "1.32", "last-al2-amis"),
        ("1.32", "1.33", "no-al2-amis"),
        ("1.34", "1.35", "cgroup-v1"),
        ("1.35", "1.36", "gitrepo-disabled"),
    ],
)
def test_key_gotchas_are_high_or_medium_and_where_expected(
    current: str, target: str, gotcha_id: str
) -> None:
    found = {g.id: g for g in CATALOG.gotchas_between(current, target)}
    assert found[gotcha_id].severity in (Severity.HIGH, Severity.MEDIUM)
    assert found[gotcha_id].detect


def test_gotchas_come_in_version_order_then_the_general_ones() -> None:
    gotchas = CATALOG.gotchas_between("1.23", "1.26")
    targets = [str(g.target) for g in gotchas if g.target is not None]
    assert targets == sorted(targets, key=KubeVersion.parse)
    assert set(targets) == {"1.24", "1.25", "1.26"}  # not 1.23: the cluster is already there
    general = [g for g in gotchas if g.applies_to_every_upgrade]
    assert general
    assert gotchas[-len(general) :] == general
    assert CATALOG.gotchas_between("1.30", "1.30") == []


def test_dockershim_psp_and_al2_gotchas_are_high() -> None:
    by_id = {g.id: g for g in CATALOG.data.gotchas}
    for gotcha_id in ("dockershim-removed", "psp-removed", "no-al2-amis", "last-al2-amis"):
        assert by_id[gotcha_id].severity is Severity.HIGH
    assert str(by_id["no-al2-amis"].target) == "1.33"
    assert by_id["containerd-2-required"].inferred
    assert not by_id["ipvs-deprecated"].verified


# --- AMIs ---------------------------------------------------------------------------------------


def test_al2_amis_stop_after_1_32() -> None:
    assert CATALOG.has_al2_amis("1.32")
    assert not CATALOG.has_al2_amis("1.33")
    for version in CATALOG.known_versions():
        for ami_type in ("AL2_x86_64", "AL2_ARM_64", "AL2_x86_64_GPU"):
            parameter = CATALOG.ami_parameter(version, ami_type)
            assert (parameter is not None) == CATALOG.has_al2_amis(version)


@pytest.mark.parametrize(
    ("version", "ami_type", "path"),
    [
        (
            "1.32",
            "AL2_x86_64",
            "/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id",
        ),
        ("1.33", "AL2_ARM_64", None),
        (
            "1.33",
            "AL2023_x86_64_STANDARD",
            "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/recommended/image_id",
        ),
        (
            "v1.31.2",
            "AL2023_ARM_64_NVIDIA",
            "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/arm64/nvidia/recommended/image_id",
        ),
        (
            "1.34",
            "BOTTLEROCKET_ARM_64",
            "/aws/service/bottlerocket/aws-k8s-1.34/arm64/latest/image_id",
        ),
        (
            "1.34",
            "BOTTLEROCKET_x86_64_NVIDIA",
            "/aws/service/bottlerocket/aws-k8s-1.34-nvidia/x86_64/latest/image_id",
        ),
        ("1.23", "WINDOWS_CORE_2022_x86_64", None),
        (
            "1.24",
            "WINDOWS_FULL_2022_x86_64",
            "/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-EKS_Optimized-1.24/image_id",
        ),
        ("1.34", "WINDOWS_CORE_2025_x86_64", None),
        (
            "1.35",
            "WINDOWS_CORE_2025_x86_64",
            "/aws/service/ami-windows-latest/Windows_Server-2025-English-Core-EKS_Optimized-1.35/image_id",
        ),
        ("1.30", "CUSTOM", None),
    ],
)
def test_ami_parameter(version: str, ami_type: str, path: str | None) -> None:
    assert CATALOG.ami_parameter(version, ami_type) == path


def test_ami_parameter_refuses_unknown_types() -> None:
    with pytest.raises(UserError, match="unknown AMI type 'AL3_x86_64'"):
        CATALOG.ami_parameter("1.30", "AL3_x86_64")


def test_every_ami_type_but_custom_has_a_parameter() -> None:
    amis = CATALOG.data.amis
    assert set(amis.ami_types.names) - set(amis.ssm_parameters) == {"CUSTOM"}
    assert str(amis.al2023.default_for_new_managed_node_groups_from) == "1.30"


# --- add-on rules -------------------------------------------------------------------------------


def test_vpc_cni_goes_one_minor_at_a_time() -> None:
    rule = CATALOG.addon_rule("vpc-cni")
    assert rule is not None
    assert rule.one_minor_at_a_time
    steps = CATALOG.addon_upgrade_minors("vpc-cni", "v1.16.2-eksbuild.1", "v1.19.0-eksbuild.5")
    assert steps == ["1.17", "1.18", "1.19"]
    assert CATALOG.addon_upgrade_minors("vpc-cni", "v1.19.0-eksbuild.1", "v1.19.2-eksbuild.5") == []
    assert CATALOG.addon_upgrade_minors("coredns", "v1.9.3-eksbuild.2", "v1.11.4-eksbuild.2") == [
        "1.11"
    ]
    with pytest.raises(UserError, match="older than the installed"):
        CATALOG.addon_upgrade_minors("vpc-cni", "v1.19.0", "v1.18.0")
    with pytest.raises(UserError, match="malformed vpc-cni version"):
        CATALOG.addon_upgrade_minors("vpc-cni", "latest", "v1.18.0")


def test_addon_minimums_apply_from_their_kubernetes_version() -> None:
    before = {m.version for m in CATALOG.addon_minimums("vpc-cni", "1.25")}
    after = {m.version for m in CATALOG.addon_minimums("vpc-cni", "1.26")}
    assert "1.12.0" not in before
    assert "1.12.0" in after
    assert "1.8.0" in before  # a standing requirement
    kube_proxy = CATALOG.addon_rule("kube-proxy")
    assert kube_proxy is not None
    assert kube_proxy.minor_matches_cluster


def test_the_data_holds_no_addon_versions() -> None:
    # Add-on versions come from eks:DescribeAddonVersions at run time; a snapshot would rot.
    for name, rule in CATALOG.data.addons.items():
        assert set(type(rule).model_fields) == {
            "one_minor_at_a_time",
            "minor_matches_cluster",
            "minimums",
            "sources",
            "verified",
            "inferred",
            "notes",
        }, name


# --- provenance ---------------------------------------------------------------------------------


def _sourced(node: object, path: str = "") -> Iterator[tuple[str, BaseModel]]:
    if isinstance(node, BaseModel):
        if "sources" in type(node).model_fields:
            yield path, node
        for name in type(node).model_fields:
            yield from _sourced(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, tuple):
        for index, item in enumerate(node):
            yield from _sourced(item, f"{path}[{index}]")
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from _sourced(item, f"{path}.{key}")


def test_every_fact_names_an_existing_source_and_every_source_is_used() -> None:
    table = CATALOG.data.sources
    used: set[str] = set()
    entries = list(_sourced(CATALOG.data))
    assert len(entries) > 150  # versions, removals, gotchas, rules, AMI parameters, add-ons
    for path, entry in entries:
        sources = entry.sources  # type: ignore[attr-defined]
        assert sources, path
        assert set(sources) <= set(table), path
        used |= set(sources)
    assert used == set(table)
    assert all(source.commits or source.urls for source in table.values())
    assert CATALOG.source("S8").urls == ("https://kubernetes.io/releases/version-skew-policy/",)


def test_compiled_date_and_schema() -> None:
    assert CATALOG.data.schema_version == 1
    assert CATALOG.compiled == DAY
    released = [v.eks_release for v in CATALOG.data.versions if v.eks_release is not None]
    assert max(released) <= CATALOG.compiled


# --- loading ------------------------------------------------------------------------------------


def test_loaded_once_from_the_package() -> None:
    assert default_catalog() is default_catalog()


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        CATALOG.get("1.30").eks_release = None


def _load(text: str) -> VersionCatalog:
    return VersionCatalog.from_yaml(text, filename=FILENAME)


def _error(text: str) -> str:
    with pytest.raises(VersionDataError) as caught:
        _load(text)
    message = str(caught.value)
    assert all(line.startswith(f"{FILENAME}: ") for line in message.splitlines())
    return message


def test_the_packaged_text_loads() -> None:
    assert _load(_text()).known_versions() == CATALOG.known_versions()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '{version: "1.24",',
            "{version: 1.24,",
            r'versions\[1\]\.version: a Kubernetes version must be a quoted string such as "1\.30"',
        ),
        (
            "end_of_extended_support: 2025-01-31",
            "end_of_extended_support: 2023-01-31",
            r"versions\[1\]\(1\.24\): end_of_extended_support \(2023-01-31\) must come after",
        ),
        (
            "eks_release: 2022-11-15",
            "eks_release: 2022-01-15",
            r"versions\[1\]\(1\.24\): eks_release \(2022-01-15\) must come after upstream_release",
        ),
        (
            "sources: [S3a, S4b]}",
            "sources: [S99]}",
            r"versions\[1\]\(1\.24\)\.sources: unknown source id 'S99'",
        ),
        (
            '{version: "1.24", upstream_release',
            '{version: "1.24", colour: red, upstream_release',
            r"versions\[1\]\(1\.24\)\.colour: Extra inputs are not permitted",
        ),
        ("schema_version: 1", "schema_version: 2", r"schema_version: Input should be 1"),
        (
            "id: psp-removed, severity: high",
            "id: psp-removed, severity: dire",
            r"gotchas\[\d+\]\(psp-removed\)\.severity: Input should be",
        ),
        (
            "id: vpc-cni-1-12,",
            "id: psp-removed,",
            r"gotchas\[\d+\]\(psp-removed\): duplicate gotcha id 'psp-removed'",
        ),
        (
            "  S18: {",
            "  S17: {",
            r"line \d+: duplicate key 'S17'",
        ),
        (
            "may_trail_within_skew: [self_managed, hybrid]",
            "may_trail_within_skew: [self_managed]",
            r"upgrade_rules: must_match_control_plane_before_upgrade and may_trail_within_skew",
        ),
        (
            'AL2_ARM_64: {path: "/aws/service/eks/optimized-ami/{version}/amazon-linux-2-arm64/'
            'recommended/image_id", last_version: "1.32"',
            'AL2_ARM_64: {path: "/aws/service/eks/optimized-ami/{version}/amazon-linux-2-arm64/'
            'recommended/image_id", last_version: "1.33"',
            r"amis: ssm_parameters\.AL2_ARM_64\.last_version must be al2\.last_kubernetes_version",
        ),
        ("versions:\n", "versions: [\n", r"line \d+: "),
    ],
)
def test_malformed_data_fails_with_file_field_message(old: str, new: str, expected: str) -> None:
    text = _text()
    assert old in text, old
    assert re.search(expected, _error(text.replace(old, new, 1)))


def test_a_missing_version_is_a_gap() -> None:
    text = "".join(
        line for line in _text().splitlines(keepends=True) if '"1.25", upstream' not in line
    )
    assert re.search(r"versions\[2\]\(1\.26\): expected 1\.25", _error(text))


def test_not_a_mapping() -> None:
    assert _error("- 1\n- 2\n") == f"{FILENAME}: (top level): expected a mapping"
