"""Choices made once for the whole fleet: one add-on version and one AMI release per
Kubernetes version, whatever region each cluster is in (Azure Fleet Manager's `Consistent`
node-image selection: the newest release every region has)."""

from __future__ import annotations

from upgrader.plan.document import AddonUpdate, Plan, Step, StepKind, Verdict
from upgrader.usecases.fleet.planning import (
    _consistent_addons,
    _consistent_amis,
    _pin_amis,
    _Planned,
)


def _plan(name: str, addon_target: str) -> Plan:
    return Plan(
        eksup_version="test",
        created_at="2026-01-01T00:00:00Z",
        cluster=name,
        region="eu-west-1",
        current_version="1.30",
        target_version="1.31",
        node_strategy="blue-green",
        runbook="eks-upgrade-blue-green",
        fingerprint="f",
        verdict=Verdict.READY,
        hops=["1.31"],
        node_replacements=1,
        steps=[
            Step(
                id="addons-1.31",
                kind=StepKind.ADDONS,
                target=name,
                description="add-ons",
                hop="1.31",
                params={"version": "1.31"},
                addon_updates=[
                    AddonUpdate(
                        name="coredns", current="v1.11.1", target=addon_target, path=[addon_target]
                    )
                ],
            ),
            Step(
                id="nodegroup-general-1.31",
                kind=StepKind.NODEGROUP_BLUE_GREEN,
                target="general",
                description="nodes",
                params={
                    "nodegroup": "general",
                    "green_nodegroup": "general-1-31",
                    "version": "1.31",
                    "ami_type": "AL2023_x86_64_STANDARD",
                },
            ),
        ],
    )


def test_one_addon_version_every_region_offers_no_newer_than_any_plan_chose() -> None:
    results = {
        "a": _Planned(
            _plan("a", "v1.11.4"), None, {("coredns", "1.31"): ["v1.11.3", "v1.11.4"]}, {}
        ),
        "b": _Planned(_plan("b", "v1.11.3"), None, {("coredns", "1.31"): ["v1.11.3"]}, {}),
    }
    choices, notes = _consistent_addons(results)
    assert [(c.addon, c.version) for c in choices] == [("coredns", "v1.11.3")]
    assert choices[0].note == "instead of v1.11.4"
    assert notes == []


def test_one_ami_release_the_oldest_recommended_and_it_is_pinned() -> None:
    key = ("1.31", "AL2023_x86_64_STANDARD")
    results = {
        "a": _Planned(_plan("a", "v1"), None, {}, {key: "1.31.2-20250201"}),
        "b": _Planned(_plan("b", "v1"), None, {}, {key: "1.31.2-20250115"}),
    }
    (choice,) = _consistent_amis(results)
    assert choice.release_version == "1.31.2-20250115"
    assert choice.note == "some regions recommend 1.31.2-20250201"
    pinned = _pin_amis(_plan("a", "v1"), [choice])
    assert pinned.step("nodegroup-general-1.31").params.release_version == "1.31.2-20250115"
    assert "release_version" not in pinned.step("addons-1.31").params.model_dump()


def test_a_cluster_whose_upstream_is_blocked_says_it_will_not_start() -> None:
    from upgrader.fleet.run_doc import ClusterVerdict, RunCluster
    from upgrader.usecases.fleet.planning import _behind_upstreams

    def cluster(name: str, verdict: ClusterVerdict, upstream: str | None = None) -> RunCluster:
        return RunCluster(
            name=name,
            account="111111111111",
            region="us-east-1",
            upstream=upstream,
            stage="s",
            group="g",
            verdict=verdict,
        )

    marked = _behind_upstreams(
        [cluster("mgmt", ClusterVerdict.UNREACHABLE), cluster("dev", ClusterVerdict.READY, "mgmt")]
    )
    assert marked[1].reason == "will not start: its upstream mgmt is unreachable"
    assert marked[1].verdict is ClusterVerdict.READY


def test_bottlerocket_and_amazon_linux_releases_are_read_beside_their_image_ids() -> None:
    from types import SimpleNamespace

    from upgrader.sandbox.aws_seed import public_parameters
    from upgrader.sandbox.eks import catalog
    from upgrader.usecases.fleet.planning import (
        _launch_template_notes,
        _releases,
        release_parameter,
    )

    # AWS's public parameters (docs: retrieve-ami-id.html, retrieve-ami-id-bottlerocket.html).
    bottlerocket = "/aws/service/bottlerocket/aws-k8s-1.31/x86_64/latest/image_id"
    amazon_linux = (
        "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id"
    )
    assert release_parameter(bottlerocket) == bottlerocket.replace("image_id", "image_version")
    assert release_parameter(amazon_linux) == amazon_linux.replace("image_id", "release_version")
    assert release_parameter("/my/team/golden-ami") is None

    def step(step_id: str, kind: StepKind, ami_type: str, parameter: str | None) -> Step:
        params = {
            "nodegroup": step_id,
            "version": "1.31",
            "ami_type": ami_type,
            "ami_parameter": parameter,
        }
        if kind is StepKind.NODEGROUP_BLUE_GREEN:
            params["green_nodegroup"] = f"{step_id}-1-31"
        return Step(id=step_id, kind=kind, target=step_id, description="nodes", params=params)

    plan = _plan("a", "v1").model_copy(
        update={
            "steps": [
                step("br", StepKind.NODEGROUP_BLUE_GREEN, "BOTTLEROCKET_x86_64", bottlerocket),
                step("asg", StepKind.SELF_MANAGED_GROUP, "AL2023_x86_64_STANDARD", amazon_linux),
                step("golden", StepKind.SELF_MANAGED_GROUP, "CUSTOM", None),
            ]
        }
    )

    def region(name: str, releases: dict[str, str] | None = None) -> _Planned:
        values = {**public_parameters(name), **(releases or {})}
        compute = SimpleNamespace(get_parameter=values.__getitem__)
        return _Planned(plan, None, {}, _releases(plan, SimpleNamespace(compute=compute)))  # type: ignore[arg-type]

    newer = "1.31.13-20260301"
    results = {
        "eu": region("eu-west-1"),
        "us": region("us-east-1", {amazon_linux.replace("image_id", "release_version"): newer}),
    }
    expected = catalog.ami_releases()["1.31"]
    assert results["eu"].releases == {
        ("1.31", "BOTTLEROCKET_x86_64"): expected.bottlerocket,
        ("1.31", "AL2023_x86_64_STANDARD"): expected.al2023,
    }
    choices = _consistent_amis(results)
    by_type = {c.ami_type: c.release_version for c in choices}
    assert by_type == {
        "BOTTLEROCKET_x86_64": expected.bottlerocket,
        "AL2023_x86_64_STANDARD": expected.al2023,
    }
    pinned = _pin_amis(plan, choices)
    assert getattr(pinned.step("br").params, "release_version", None) == expected.bottlerocket
    assert "release_version" not in pinned.step("asg").params  # a launch template: by image id
    notes = _launch_template_notes(results, choices)
    assert any(n.startswith("us: asg gets image") and newer in n for n in notes), notes
    assert not any(n.startswith("eu: asg") for n in notes)
    assert "eu: golden runs a custom AMI: no release is chosen for it" in " ".join(notes)


def test_bottlerocket_releases_order_by_os_version_not_by_commit() -> None:
    key = ("1.31", "BOTTLEROCKET_x86_64")
    results = {
        "a": _Planned(_plan("a", "v1"), None, {}, {key: "1.52.0-00000001"}),
        "b": _Planned(_plan("b", "v1"), None, {}, {key: "1.50.0-ffffffff"}),
    }
    (choice,) = _consistent_amis(results)
    assert choice.release_version == "1.50.0-ffffffff"
