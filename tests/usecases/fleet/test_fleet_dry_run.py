"""`eksup fleet run --dry-run` in one sandbox fleet world: every member's execute dry run in the
coordinator's order, nothing written on any member or beside the run, and a real run afterwards
that behaves as if the dry run never happened; a changed, a blocked and an unreachable member
are reported by name with the exit code `execute --dry-run` gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from upgrader.core.errors import NotFoundError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE
from upgrader.core.run.mirror import JOURNAL_NAMESPACE, mirror_name
from upgrader.demo.fleet_world import build_fleet_world, example_fleet_yaml, sandbox_fleet_opener
from upgrader.fleet.run_doc import FleetRun, load_run
from upgrader.fleet.spec_file import load_fleet_spec
from upgrader.fleet.state import FleetState, state_dir
from upgrader.plan.checks.config import Config
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.fleet.dry_run import Finding, FleetDryRun, dry_run_fleet
from upgrader.usecases.fleet.dry_run_report import report_lines
from upgrader.usecases.fleet.targets import Address
from upgrader.usecases.targets import Target

DEV_B = "    roleArn: arn:aws:iam::210987654321:role/eksup-fleet\n    labels: {env: dev}\n"
# fleet.yaml's execute options are what `execute --force` would be: dev-b's bare pod goes.
FORCED = example_fleet_yaml().replace(DEV_B, DEV_B + "    execute: {force: true}\n")


_PLANNED: dict[str, str] = {}  # fleet.yaml -> its run (JSON): planned once per module


@contextmanager
def _fleet(tmp_path: Path, text: str) -> Iterator[tuple[Sandbox, FleetRun, Path]]:
    """A fresh sandbox fleet and its run. The world is built the same every time (the CLI's
    embedded sandbox relies on it), so a run planned in one world fits the next."""
    from upgrader.usecases.fleet.planning import plan_fleet
    from upgrader.usecases.fleet.pool import TurnTakingPool

    spec = tmp_path / "fleet.yaml"
    spec.write_text(text)
    with Sandbox() as world:
        build_fleet_world(world)
        if text not in _PLANNED:
            opener = sandbox_fleet_opener(world)
            planned = plan_fleet(
                load_fleet_spec(spec), "fleet.yaml", opener, TurnTakingPool(world.clock)
            )
            _PLANNED[text] = planned.to_json()
        run_file = tmp_path / "run.json"
        run_file.write_text(_PLANNED[text])
        yield world, load_run(run_file), run_file


def _dry_run(world: Sandbox, run: FleetRun, run_file: Path, opener: Any = None) -> FleetDryRun:
    lines: list[str] = []
    return dry_run_fleet(
        run,
        run_file,
        opener or sandbox_fleet_opener(world),
        FleetState(),
        config=Config(),
        now=world.clock.now(),
        log=lines.append,
    )


def _nothing_on(world: Sandbox, run: FleetRun) -> None:
    """No journal ConfigMap and no Lease on any member: what a real run creates first."""
    opener = sandbox_fleet_opener(world)
    for cluster in run.clusters:
        with opener(cluster) as target:
            with pytest.raises(NotFoundError):
                target.kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            with pytest.raises(NotFoundError):
                target.kube.get_config_map(JOURNAL_NAMESPACE, mirror_name(cluster.name))


def test_every_member_would_run_nothing_is_written_and_the_real_run_follows(
    tmp_path: Path,
) -> None:
    from upgrader.usecases.fleet.engines.local import LocalEngine
    from upgrader.usecases.fleet.pool import TurnTakingPool

    with _fleet(tmp_path, FORCED) as (world, run, run_file):
        before = sorted(p.name for p in tmp_path.iterdir())
        result = _dry_run(world, run, run_file)
        assert result.exit_code is ExitCode.OK, report_lines(result)
        # The coordinator's order: stage by stage, the upstream first.
        assert [m.name for m in result.members()] == ["mgmt", "dev-a", "dev-b", "prod-eu"]
        assert {m.finding for m in result.members()} == {Finding.WOULD_RUN}
        text = "\n".join(report_lines(result))
        assert "soaks 1h before the next stage" in text
        assert "waits for approval prod/before/change-board" in text
        assert "Summary: 4 would run." in text
        # Nothing beside the run (no run.fleet/), nothing on the members.
        assert sorted(p.name for p in tmp_path.iterdir()) == before
        assert not state_dir(run_file).exists()
        _nothing_on(world, run)
        # A real run afterwards, on the same world: as if the dry run never happened.
        outcome = LocalEngine(
            run,
            run_file,
            sandbox_fleet_opener(world),
            TurnTakingPool(world.clock),
            log=lambda _line: None,
            by="test",
        ).execute()
        assert outcome.status == "stopped", outcome.reason
        assert "change-board" in outcome.reason  # the gate the dry run named
        opener = sandbox_fleet_opener(world)
        for name in ("mgmt", "dev-a", "dev-b"):
            with opener(run.cluster(name)) as target:
                assert target.control_plane.describe_cluster(name).version == run.target_version


def test_a_blocked_member_is_named_with_its_blockers_and_where_the_run_stops(
    tmp_path: Path,
) -> None:
    with _fleet(tmp_path, example_fleet_yaml()) as (world, run, run_file):
        result = _dry_run(world, run, run_file)
    assert result.exit_code is ExitCode.BLOCKED
    assert result.named(Finding.BLOCKED) == ["dev-b"]
    (dev_b,) = [m for m in result.members() if m.name == "dev-b"]
    assert dev_b.lines
    assert all("debug-shell" in line for line in dev_b.lines)
    text = "\n".join(report_lines(result))
    assert "the real run would fail stage dev here" in text
    assert "Summary: 3 would run, 1 blocked (dev-b); the real run would stop at stage dev." in text


def test_a_member_changed_since_the_plan_is_refused_and_its_downstream_noted(
    tmp_path: Path,
) -> None:
    with _fleet(tmp_path, FORCED) as (world, run, run_file):
        with sandbox_fleet_opener(world)(run.cluster("mgmt")) as target:
            node = target.kube.list_nodes()[0].name
            target.kube.set_unschedulable(node, True)  # cordoned by hand after planning
        result = _dry_run(world, run, run_file)
    # As `execute --dry-run` refuses a plan its cluster no longer matches: exit 3.
    assert result.exit_code is ExitCode.REFUSED
    assert result.named(Finding.REFUSED) == ["mgmt"]
    (mgmt, dev_a, *_) = result.members()
    assert "changed since the plan was made" in mgmt.detail
    assert node in mgmt.detail
    # Its downstream clusters' own dry runs pass, but the real run would not start them.
    assert dev_a.finding is Finding.WOULD_RUN
    assert any("would not start it: its upstream mgmt" in note for note in dev_a.notes)


def test_an_unreachable_member_counts_as_blocked_and_the_others_still_run(
    tmp_path: Path,
) -> None:
    with _fleet(tmp_path, FORCED) as (world, run, run_file):
        real = sandbox_fleet_opener(world)

        def opener(cluster: Address) -> AbstractContextManager[Target]:
            if cluster.name == "prod-eu":
                raise ConnectionRefusedError("[Errno 111] Connection refused\nmore detail")
            return real(cluster)

        result = _dry_run(world, run, run_file, opener)
    assert result.exit_code is ExitCode.BLOCKED
    assert result.named(Finding.UNREACHABLE) == ["prod-eu"]
    assert result.named(Finding.WOULD_RUN) == ["mgmt", "dev-a", "dev-b"]
    (prod,) = [m for m in result.members() if m.name == "prod-eu"]
    assert (
        prod.detail == "cannot be reached: ConnectionRefusedError: [Errno 111] Connection refused"
    )


def test_the_walk_honours_skips_plan_time_verdicts_windows_and_gates(tmp_path: Path) -> None:
    """No world: plan-less clusters are never opened, and the coordinator's rules decide."""
    from tests.usecases.fleet.builders import FLEET, make_run
    from upgrader.fleet.journal import FleetJournal
    from upgrader.fleet.records import Request, cluster_step
    from upgrader.fleet.run_doc import ClusterVerdict
    from upgrader.sandbox.clock import VirtualClock

    text = (
        FLEET.replace("{allowed}", "1")
        .replace(
            "selector: env=prod",
            "selector: env=prod\n    beforeGates: [{name: cab}]\n    window: {days: [sat], "
            "start: '02:00', end: '06:00', timezone: Europe/Paris}",
        )
        .replace("env=mgmt", "env=mgmt\n    afterGates: [{name: qa}]")
    )
    verdicts = {"mgmt": ClusterVerdict.SKIPPED, "dev-c": ClusterVerdict.UNREACHABLE}
    run, run_file = make_run(tmp_path, text, verdicts)
    journal = FleetJournal(run_file)
    journal.ask(0, Request.SKIP, "sre", cluster_step("dev-a"), "decommissioned")
    before = sorted(p.name for p in state_dir(run_file).iterdir())

    def never(cluster: Address) -> AbstractContextManager[Target]:
        raise AssertionError(f"{cluster.name} opened")

    # The sandbox epoch: Thursday 2026-01-01 00:00 UTC, the window (Saturdays) closed.
    result = dry_run_fleet(
        run,
        run_file,
        never,
        journal.state(),
        config=Config(),
        now=VirtualClock().now(),
        log=lambda _line: None,
    )
    assert [m.name for m in result.members()] == ["mgmt", "dev-a", "dev-b", "dev-c", "prod"]
    found = {m.name: m for m in result.members()}
    assert found["mgmt"].finding is Finding.SKIPPED
    assert found["dev-a"].finding is Finding.SKIPPED
    assert found["dev-a"].detail == "skipped by a person (`eksup fleet skip`)"
    assert found["dev-a"].notes == ()  # nothing to wait for: it is not run
    # No plan (a READY verdict here only because the builder plans nothing): what the real
    # run would count as failed, never opened.
    assert found["dev-b"].finding is Finding.BLOCKED
    assert found["dev-c"].finding is Finding.UNREACHABLE
    assert found["dev-c"].detail == "unreachable at plan time: set by the test"
    # mgmt was at the target: its downstream clusters may start.
    assert not any("would not start" in n for n in found["dev-b"].notes)
    assert any("closed now; opens 2026-01-03 01:00 UTC" in n for n in found["prod"].notes)
    dev, prod = result.stages[1], result.stages[2]
    assert dev.fails == "group dev has 2 failed cluster(s), more than its maxAllowedFailures 1"
    assert prod.before[0].startswith("waits for approval prod/before/cab: `eksup fleet approve")
    assert result.stages[0].after == ["waits for approval management/after/qa"]
    assert result.exit_code is ExitCode.BLOCKED
    # The journal was read, not written.
    assert sorted(p.name for p in state_dir(run_file).iterdir()) == before
    assert len(journal.records()) == 1
