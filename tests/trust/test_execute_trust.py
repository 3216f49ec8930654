"""Issue 12, items 2-4, end to end through the CLI on the embedded sandbox.

- `execute` proves where it is on every start, resume and dry run (same cluster, account,
  region, kube context) and refuses with exit 3 before any change;
- the plan is integrity-checked: a digest, approvals bound to it, gates required by policy,
  the stored verdict never trusted, suppressions with a reason and an expiry;
- `--resume` continues with the first run's consent, says so, and prints complete commands.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.plan_files import edit_plan
from upgrader.cli import app
from upgrader.core.errors import RefusedError
from upgrader.core.run.journal import journal_path_for
from upgrader.demo import targets
from upgrader.plan.document import load_plan
from upgrader.sandbox.demo_world import DEMO_CLUSTER, DEMO_VERSION, build_demo_world
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.admission import region_for
from upgrader.versions import KubeVersion

# lead: sandbox target. The demo cluster's next minor, whatever version the sandbox starts at.
TARGET = str(KubeVersion.parse(DEMO_VERSION) + 1)
WIDE = ("--force", "--delete-emptydir-data")  # what the demo's bare and emptyDir pods need


def run(*args: str, **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "LOGNAME": "carol", **env})
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def made_plan(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("made") / "plan.json"
    code, _, stderr = run("plan", "--sandbox", "--to", TARGET, "--out", str(path))
    assert code == 0, stderr
    return path.read_text()


@pytest.fixture
def plan_file(made_plan: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .eksup.yaml but the test's own
    path = tmp_path / "plan.json"
    path.write_text(made_plan)
    return path


def _phases(plan_file: Path) -> list[dict[str, Any]]:
    path = journal_path_for(plan_file)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- item 2: where it is ---------------------------------------------------------------------------


class _Worlds:
    """The demo world plus a second cluster, with the kube port pointed at the second."""

    def __init__(self, *, same_url: bool = False) -> None:
        self.kube_of_other: Any = None
        self.same_url = same_url  # the other cluster behind the planned cluster's URL

    @contextlib.contextmanager
    def other_context(self, cluster: str | None) -> Iterator[targets.Target]:
        with Sandbox() as world:
            build_demo_world(world)
            world.create_cluster("other", DEMO_VERSION, world.create_network())
            target = targets.sandbox_target(world, cluster or DEMO_CLUSTER)
            other = targets.sandbox_target(world, "other")
            target.kube = other.kube  # the kubeconfig context switched to cluster "other"
            target.kube_ca = other.kube_ca
            if not self.same_url:
                target.kube_endpoint = other.kube_endpoint
            target.kube_context = "other"
            self.kube_of_other = other.kube
            yield target


@pytest.mark.parametrize("mode", [("--dry-run",), ("--yes", *WIDE)])
def test_a_kube_context_on_another_cluster_is_refused_before_any_change(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch, mode: tuple[str, ...]
) -> None:
    worlds = _Worlds()
    monkeypatch.setattr(targets, "open_sandbox_target", worlds.other_context)
    code, stdout, stderr = run("execute", str(plan_file), "--sandbox", *mode)
    assert code == 3, stdout + stderr
    message = one_line(stderr)
    assert "kube context other points at" in message
    assert f"not at cluster {DEMO_CLUSTER}" in message
    assert not journal_path_for(plan_file).exists()  # no run, no journal
    # Nothing was written to the other cluster: no lock, no journal ConfigMap, no drain.
    writes = [a for a in worlds.kube_of_other.actions if a.verb not in ("get", "list", "watch")]
    assert writes == []


def test_the_right_url_served_with_another_clusters_ca_is_refused(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worlds = _Worlds(same_url=True)
    monkeypatch.setattr(targets, "open_sandbox_target", worlds.other_context)
    code, stdout, stderr = run("execute", str(plan_file), "--sandbox", "--yes", *WIDE)
    assert code == 3, stdout + stderr
    assert "trusts another certificate authority" in one_line(stderr)
    assert not journal_path_for(plan_file).exists()


def test_an_edited_region_is_refused_not_overridden_by_aws_region(plan_file: Path) -> None:
    edit_plan(plan_file, lambda d: d.update(region="eu-west-1"), reseal=True)
    for mode in (("--dry-run",), ("--yes", *WIDE)):
        code, _, stderr = run("execute", str(plan_file), "--sandbox", *mode, AWS_REGION="us-east-1")
        assert code == 3, stderr
        assert "region eu-west-1" in one_line(stderr)
    assert not journal_path_for(plan_file).exists()


def test_a_region_asked_for_that_is_not_the_plans_is_refused(plan_file: Path) -> None:
    # Against AWS (no sandbox), --region and AWS_REGION never win over the plan's region.
    plan = load_plan(plan_file)
    assert region_for(plan, None, sandbox=False) == plan.region
    assert region_for(plan, plan.region, sandbox=False) == plan.region
    with pytest.raises(RefusedError, match="is not the plan's region"):
        region_for(plan, "ap-south-2", sandbox=False)


# -- item 3: the plan as an integrity-checked document ----------------------------------------


def test_a_plan_edited_without_resealing_is_refused(plan_file: Path) -> None:
    edit_plan(plan_file, lambda d: d.update(verdict="READY"), reseal=False)
    code, _, stderr = run("execute", str(plan_file), "--sandbox", "--dry-run")
    assert code == 3
    assert "was edited after `eksup plan` wrote it" in one_line(stderr)


def test_a_plan_without_its_approval_step_is_refused(plan_file: Path) -> None:
    def drop_gate(document: dict[str, Any]) -> None:
        document["steps"] = [s for s in document["steps"] if s["kind"] != "approval"]

    edit_plan(plan_file, drop_gate, reseal=True)
    for mode in (("--dry-run",), ("--yes", *WIDE)):
        code, _, stderr = run("execute", str(plan_file), "--sandbox", *mode)
        assert code == 3, stderr
        assert "lacks required gate approve-upgrade" in one_line(stderr)
    assert not journal_path_for(plan_file).exists()


def test_an_approval_step_turned_into_something_else_is_refused(plan_file: Path) -> None:
    def disarm(document: dict[str, Any]) -> None:
        for step in document["steps"]:
            if step["kind"] == "approval":
                step.update(kind="verify", approval=False, params={"version": TARGET})

    edit_plan(plan_file, disarm, reseal=True)
    code, _, stderr = run("execute", str(plan_file), "--sandbox", "--yes", *WIDE)
    assert code == 3, stderr
    assert "approve-upgrade must be a approval step" in one_line(stderr)


BLOCKING_CONFIG = "thresholds:\n  cluster_subnet_min_free_ips: 1000000\n"


def test_a_flipped_verdict_has_no_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path(".eksup.yaml").write_text(BLOCKING_CONFIG)
    plan_file = tmp_path / "plan.json"
    code, _, _ = run("plan", "--sandbox", "--to", TARGET, "--out", str(plan_file))
    assert code == 2  # NOT READY: the subnets cannot have a million free IPs
    assert load_plan(plan_file).verdict.value == "NOT READY"
    edit_plan(plan_file, lambda d: d.update(verdict="READY"), reseal=True)

    code, stdout, stderr = run("execute", str(plan_file), "--sandbox", "--yes", *WIDE)

    assert code == 3, stdout + stderr
    assert "cluster-subnet-ips" in one_line(stdout + stderr)
    assert not any(r["phase"] == "action" for r in _phases(plan_file))
    code, stdout, stderr = run("execute", str(plan_file), "--sandbox", "--dry-run")
    assert code == 2  # never 0: the dry run says the run would be blocked
    assert "cluster-subnet-ips" in one_line(stdout + stderr)


def _suppressing(reason: str, expires: str | None) -> str:
    rule = "suppress:\n  - id: cluster-subnet-ips\n"
    if reason:
        rule += f"    reason: {reason}\n"
    if expires:
        rule += f"    expires: {expires}\n"
    return BLOCKING_CONFIG + rule


@pytest.mark.parametrize(
    ("reason", "expires", "code"),
    [
        ("", None, 2),  # no reason, no expiry: a blocking finding stays blocking
        ("CHG-1 subnets grow next week", None, 2),  # no expiry
        ("CHG-1 subnets grow next week", "2000-01-31", 2),  # expired (by the sandbox clock)
        ("CHG-1 subnets grow next week", "2999-12-31", 0),
    ],
)
def test_suppressing_a_blocking_check_needs_a_reason_and_a_live_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: str, expires: str | None, code: int
) -> None:
    monkeypatch.chdir(tmp_path)
    Path(".eksup.yaml").write_text(_suppressing(reason, expires))
    got, stdout, stderr = run("plan", "--sandbox", "--to", TARGET)
    assert got == code, stdout + stderr
    if not reason or expires is None:  # the output says why the rule did not apply
        assert "blocking findings need a reason and an expiry date" in one_line(stdout)


def test_every_output_lists_the_active_suppressions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path(".eksup.yaml").write_text(_suppressing("CHG-1 subnets grow", "2999-12-31"))
    shown = {}
    for output in ("table", "markdown", "json", "junit"):
        code, stdout, stderr = run("plan", "--sandbox", "--to", TARGET, "--format", output)
        assert code == 0, stderr
        shown[output] = one_line(stdout)
    line = "cluster-subnet-ips *: CHG-1 subnets grow, until 2999-12-31"
    assert line in shown["table"]
    assert line in shown["markdown"]
    assert line in shown["junit"]
    document = json.loads(run("plan", "--sandbox", "--to", TARGET, "--format", "json")[1])
    assert document["suppressions"][0]["rule"] == "cluster-subnet-ips *"
    assert document["suppressions"][0]["expires"] == "2999-12-31"
    assert document["suppressions"][0]["findings"] >= 1


def test_approve_records_the_digest_and_the_aws_caller_and_an_edit_after_it_is_refused(
    plan_file: Path,
) -> None:
    plan = str(plan_file)
    code, _, stderr = run("execute", plan, "--sandbox", "--yes", *WIDE)
    assert code == 4, stderr
    code, stdout, stderr = run("approve", plan, "--sandbox", "--comment", "CHG-7")
    assert code == 0, stderr
    assert "approved by arn:aws:sts::" in stdout  # STS GetCallerIdentity, not the OS user
    approved = next(r for r in _phases(plan_file) if r["phase"] == "approved")
    assert approved["data"]["plan_digest"] == load_plan(plan_file).digest
    assert approved["data"]["caller_arn"].startswith("arn:aws:sts::")
    assert approved["data"]["comment"] == "CHG-7"

    def tweak(document: dict[str, Any]) -> None:
        document["steps"][-1]["description"] += " (and one more thing)"

    edit_plan(plan_file, tweak, reseal=True)
    code, _, stderr = run("execute", plan, "--sandbox", "--yes", "--resume", *WIDE)
    assert code == 3, stderr
    assert "edited after step approve-upgrade was approved" in one_line(stderr)


# -- item 4: --resume continues with the same consent -------------------------------------------


def test_resume_reuses_the_first_runs_consent_and_prints_complete_commands(
    plan_file: Path,
) -> None:
    plan = str(plan_file)
    code, stdout, stderr = run("execute", plan, "--sandbox", "--yes", *WIDE)
    assert code == 4, stderr
    complete = f"eksup execute {plan} --resume --sandbox --force --delete-emptydir-data"
    assert complete in one_line(stdout + stderr)
    code, stdout, stderr = run("approve", plan, "--sandbox")
    assert code == 0, stderr
    assert complete in one_line(stdout)

    # Run as a tired person would: without the first run's flags.
    code, stdout, stderr = run("execute", plan, "--sandbox", "--yes", "--resume")

    assert code == 0, stdout + stderr
    assert "resuming with the first run's options: --force --delete-emptydir-data" in one_line(
        stderr
    )
    records = _phases(plan_file)
    runs = [r["run"] for r in records if r["phase"] == "run-started"]
    assert len(runs) == 2
    # Pre-flight ran again in the resumed run (it was not skipped as already done).
    again = [r for r in records if r["step"] == "preflight" and r["run"] == runs[1]]
    assert [r["phase"] for r in again] == ["started", "finished"]
    consent = json.loads(next(r for r in records if r["phase"] == "run-started")["data"]["consent"])
    assert consent["force"] is True
    assert consent["delete_emptydir_data"] is True
