"""Issue 12, item 4: `--resume` continues with the first run's consent
(`upgrader.execute.steps.consent`)."""

from __future__ import annotations

import dataclasses
import shlex

from upgrader.core.run.journal import Phase, Record
from upgrader.execute.steps.base import ExecuteOptions, Timeouts
from upgrader.execute.steps.consent import consent_data, resume_command, resumed


def _started(options: ExecuteOptions, run: str = "r-1", seq: int = 1) -> Record:
    return Record(run, seq, 0.0, Phase.RUN_STARTED, data=consent_data(options))


def test_the_first_runs_widening_options_come_back_and_are_named() -> None:
    first = ExecuteOptions(
        force=True,
        delete_emptydir_data=True,
        surge=True,
        max_grace_period_seconds=30,
        timeouts=Timeouts(workloads_ready=1800.0),
    )
    options, said = resumed(ExecuteOptions(resume=True), [_started(first)])
    assert (options.force, options.delete_emptydir_data, options.surge) == (True, True, True)
    assert options.max_grace_period_seconds == 30
    assert options.timeouts.workloads_ready == 1800.0
    assert options.resume
    assert said.startswith("resuming with the first run's options: --force")
    assert "--max-grace-period 30" in said


def test_every_runs_consent_counts_not_only_the_last_ones() -> None:
    first, later = ExecuteOptions(force=True), ExecuteOptions(surge=True)
    options, _ = resumed(ExecuteOptions(), [_started(first), _started(later, "r-2", 9)])
    assert options.force
    assert options.surge


def test_flags_given_now_are_kept_and_nothing_is_said_when_nothing_is_reused() -> None:
    options, said = resumed(ExecuteOptions(force=True), [_started(ExecuteOptions(force=True))])
    assert options.force
    assert said == ""
    unchanged, said = resumed(ExecuteOptions(surge=True), [_started(ExecuteOptions())])
    assert unchanged == ExecuteOptions(surge=True)
    assert said == ""


def test_a_journal_without_consent_changes_nothing() -> None:
    options = ExecuteOptions(resume=True)
    old = Record("r-1", 1, 0.0, Phase.RUN_STARTED, data={"plan_fingerprint": "x"})
    assert resumed(options, [old]) == (options, "")


def test_the_resume_command_is_complete_and_quoted() -> None:
    options = dataclasses.replace(
        ExecuteOptions(force=True, delete_emptydir_data=True, grace_period_seconds=10),
        drain_timeout_seconds=1200.0,  # journaled, but not an execute flag
    )
    line = resume_command("my plans/plan;rm -rf ~.json", options, ("--context", "prod $(x)"))
    assert shlex.split(line) == [
        "eksup",
        "execute",
        "my plans/plan;rm -rf ~.json",
        "--resume",
        "--context",
        "prod $(x)",
        "--force",
        "--delete-emptydir-data",
        "--grace-period",
        "10",
    ]
