"""The fleet on the sandbox, end to end: real plans, the real run engine, two accounts (STS
AssumeRole in moto) and two regions; the demo's wave stops as dev's fail-fast policy says."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.fleet.run_doc import fleet_run_schema


def test_demo_wave_stops_when_dev_b_fails_its_preflight() -> None:
    result = CliRunner().invoke(app, ["demo", "--fleet"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "failed after" in text
    assert "dev-b: FAILED preflight" in text
    assert "debug-shell" in text
    assert "dev-a: succeeded" in text  # in flight when dev-b failed: it finished
    assert "prod-eu: started" not in text
    assert "waits for stage dev (failed)" in text


def test_fleet_plan_cli_on_the_sandbox_writes_a_run_matching_its_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "fleet.yaml"
    spec.write_text(runner.invoke(app, ["fleet", "example"]).output)
    out = tmp_path / "run.json"
    result = runner.invoke(
        app, ["fleet", "plan", str(spec), "--sandbox", "--out", str(out), "--format", "markdown"]
    )
    assert result.exit_code == 0, result.output
    assert "# Fleet runbook" in result.output
    assert "## 3. Stage prod" in result.output
    document = json.loads(out.read_text())
    jsonschema.validate(document, fleet_run_schema())
    by_name = {c["name"]: c for c in document["clusters"]}
    assert by_name["dev-b"]["account"] == "210987654321"
    assert by_name["dev-b"]["plan"]["region"] == "eu-west-1"
    assert by_name["dev-b"]["reason"].startswith("warnings:")
    assert all(c["fingerprint"] for c in document["clusters"])
    # One version of each add-on for the whole fleet, both regions.
    assert {a["addon"] for a in document["addon_choices"]} >= {"kube-proxy", "vpc-cni"}
    # One AMI release for the managed node groups, read from each region's SSM, pinned.
    (ami,) = document["ami_choices"]
    assert ami["clusters"] == ["dev-a", "dev-b", "mgmt", "prod-eu"]
    for cluster in document["clusters"]:
        groups = [s for s in cluster["plan"]["steps"] if s["kind"] == "nodegroup-blue-green"]
        assert groups
        assert {s["params"]["release_version"] for s in groups} == {ami["release_version"]}


def test_one_cluster_on_the_real_engine_soaks_between_control_plane_and_nodes(
    tmp_path: Path,
) -> None:
    from upgrader.demo.fleet_world import (
        build_fleet_world,
        example_fleet_yaml,
        sandbox_fleet_opener,
    )
    from upgrader.fleet.spec_file import load_fleet_spec
    from upgrader.fleet.state import ClusterStatus
    from upgrader.sandbox.world import Sandbox
    from upgrader.usecases.fleet.leaf import run_cluster
    from upgrader.usecases.fleet.planning import plan_fleet
    from upgrader.usecases.fleet.pool import TurnTakingPool

    spec_file = tmp_path / "fleet.yaml"
    dev_b = "    roleArn: arn:aws:iam::210987654321:role/eksup-fleet\n    labels: {env: dev}\n"
    spec_file.write_text(
        example_fleet_yaml()
        .replace(
            "    labels: {env: mgmt}\n", "    labels: {env: mgmt}\n    soakAfterControlPlane: 2h\n"
        )
        # dev-b's bare pod: fleet.yaml's execute options are what `execute --force` would be.
        .replace(dev_b, dev_b + "    execute: {force: true, drainTimeout: 45m}\n")
    )
    with Sandbox() as world:
        build_fleet_world(world)
        opener = sandbox_fleet_opener(world)
        run = plan_fleet(
            load_fleet_spec(spec_file), "fleet.yaml", opener, TurnTakingPool(world.clock)
        )
        mgmt = run.cluster("mgmt")
        assert mgmt.soak_after_control_plane_seconds == 7200
        plan_file = tmp_path / "mgmt.plan.json"
        lines: list[str] = []
        with opener(mgmt) as target:
            # A member reached is proved to be the cluster its plan is for, as `eksup execute`
            # proves it (upgrader/usecases/identity.py): dev-a's plan on mgmt's target is
            # refused before any change, and leaves no plan or journal behind.
            wrong = tmp_path / "wrong.plan.json"
            refused = run_cluster(
                run, run.cluster("dev-a"), wrong, target, world.clock, soak_done=False, log=print
            )
            assert refused.status is ClusterStatus.FAILED
            assert refused.detail.startswith("refused: ")
            assert "dev-a" in refused.detail
            assert list(tmp_path.glob("wrong*")) == []
            # A member plan edited after `eksup fleet plan` sealed it is refused the same way.
            assert mgmt.plan is not None
            edited = mgmt.model_copy(
                update={"plan": mgmt.plan.model_copy(update={"digest": "sha256:" + "0" * 64})}
            )
            refused = run_cluster(
                run, edited, wrong, target, world.clock, soak_done=False, log=print
            )
            assert refused.status is ClusterStatus.FAILED
            assert "was edited after `eksup plan` wrote it" in refused.detail
            assert list(tmp_path.glob("wrong*")) == []
            first = run_cluster(
                run, mgmt, plan_file, target, world.clock, soak_done=False, log=lines.append
            )
            assert first.status is ClusterStatus.SOAKING
            assert first.soak_until == world.clock.now() + 7200
            # The control plane is at the target, the nodes one minor behind: rollback stays open.
            assert target.control_plane.describe_cluster("mgmt").version == run.target_version
            assert {n.minor_version for n in target.kube.list_nodes()} == {mgmt.current_version}
            world.clock.sleep(7200)
            second = run_cluster(
                run, mgmt, plan_file, target, world.clock, soak_done=True, log=lines.append
            )
            assert second.status is ClusterStatus.SUCCEEDED, lines
            assert {n.minor_version for n in target.kube.list_nodes()} == {run.target_version}
            (release,) = {a.release_version for a in run.ami_choices}
            groups = [
                target.control_plane.describe_nodegroup("mgmt", name)
                for name in target.control_plane.list_nodegroups("mgmt")
            ]
            assert {g.release_version for g in groups} == {release}
        # dev-b's execute options: its drain timeout planned, --force given to its execute,
        # so the pre-flight that refuses its bare pod without --force lets it go.
        dev_b_run = run.cluster("dev-b")
        timeouts = {
            getattr(s.params, "drain_timeout_seconds", None) for s in dev_b_run.plan.steps
        } - {None}
        assert timeouts >= {2700}
        with opener(dev_b_run) as target:
            done = run_cluster(
                run,
                dev_b_run,
                tmp_path / "dev-b.plan.json",
                target,
                world.clock,
                soak_done=False,
                log=lines.append,
            )
            assert done.status is ClusterStatus.SUCCEEDED, lines
            assert "debug-shell" not in {p.name for p in target.kube.list_pods()}
        # The cluster plan's own gate was approved in its journal as the fleet run's.
        journal = (tmp_path / "mgmt.plan.journal.jsonl").read_text()
        assert f"approved by fleet run {run.run_id}" in journal
