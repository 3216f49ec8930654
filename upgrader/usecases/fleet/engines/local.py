"""The local engine: a fleet run in this process, clusters in a bounded pool.

Semantics (Azure Fleet Manager's update runs, which the Argo rendering encodes too): stages in
order; groups of a stage in parallel; at most `maxConcurrency` clusters of a group, and of the
stage, at once. Fail-fast: once failures exceed `maxAllowedFailures` (group or stage) nothing new
starts, the clusters in flight finish, and the stage fails. A stop request (`eksup fleet stop`)
does the same without failing. A run resumed (`eksup fleet resume`) starts with the first
unprocessed cluster; finished ones are never run again; one that stopped part-way resumes from
its own journal. Clusters blocked or unreachable at plan time count as failures when their stage
runs (an SRE skips them on purpose, with a reason, or re-plans); clusters already at the target
are skipped. A cluster starts only when its maintenance window is open and its upstream cluster
reached the target. After a stage: its soak (`afterStageWait`) and after-gates start together
and both must be done (Azure's FAQ).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from upgrader.core.exit_codes import ExitCode
from upgrader.core.run.status import RunStatus, exit_code
from upgrader.fleet import records
from upgrader.fleet.journal import Coordinator, FleetJournal
from upgrader.fleet.policy import failures, policy_failed, upstream_blocker
from upgrader.fleet.records import Entry
from upgrader.fleet.run_doc import ClusterVerdict, FleetRun, RunCluster, RunGroup, RunStage
from upgrader.fleet.state import DONE, ClusterStatus, FleetState
from upgrader.fleet.windows import is_open, next_open
from upgrader.usecases.fleet.leaf import LeafResult, cluster_plan_file, run_cluster
from upgrader.usecases.fleet.pool import Pool
from upgrader.usecases.fleet.targets import Address
from upgrader.usecases.targets import Target

POLL_SECONDS = 5.0  # how often the coordinator looks at its clusters and the journal
WINDOW_SLICE_SECONDS = 300.0  # waiting for a window, the journal is read this often


Opener = Callable[[Address], AbstractContextManager[Target]]
# One cluster's work: (cluster, plan file, soak already done) -> its result.
Leaf = Callable[[RunCluster, Path, bool], LeafResult]


@dataclass(frozen=True)
class FleetOutcome:
    status: str  # completed, completed-with-failures, failed, stopped
    reason: str

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(
            {
                "completed": RunStatus.SUCCEEDED,
                "completed-with-failures": RunStatus.FAILED,
                "failed": RunStatus.FAILED,
                "stopped": RunStatus.STOPPED,
            }[self.status]
        )


class _StopError(Exception):
    def __init__(self, outcome: FleetOutcome) -> None:
        self.outcome = outcome


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class LocalEngine:
    def __init__(
        self,
        run: FleetRun,
        run_file: Path,
        opener: Opener,
        pool: Pool,
        *,
        log: Callable[[str], None],
        by: str,
        poll_seconds: float = POLL_SECONDS,
        leaf: Leaf | None = None,
        wait_for_windows: bool = False,
    ) -> None:
        self.leaf = leaf or self._leaf
        # Off: a run whose next clusters wait for a window stops (exit 4) and says when it
        # opens, for a scheduler to resume. On: the run waits, as Azure's update runs do.
        self.wait_for_windows = wait_for_windows
        self.run, self.opener, self.pool, self.log, self.by = run, opener, pool, log, by
        self.journal = Coordinator(FleetJournal(run_file), pool.clock)
        self.run_arg = shlex.quote(str(run_file))  # in commands shown to a person
        self.poll = poll_seconds
        self.clock = pool.clock

    def record(self, entry: Entry) -> None:
        self.journal.write(entry)

    def execute(self) -> FleetOutcome:
        """The run; RefusedError (exit 3) while another coordinator runs it."""
        with self.pool.member(), self.journal.coordinating(self.by, "local", self.run.run_id):
            tolerated = 0
            try:
                for stage in self.run.stages:
                    tolerated += self._stage(stage)
            except _StopError as stop:
                self.record(records.run_finished(stop.outcome.status, stop.outcome.reason))
                return stop.outcome
            if tolerated:
                outcome = FleetOutcome(
                    "completed-with-failures",
                    f"every stage completed, with {tolerated} failed cluster(s) "
                    "within maxAllowedFailures: see `eksup fleet status`",
                )
            else:
                outcome = FleetOutcome(
                    "completed", f"every cluster at {self.run.target_version} or skipped"
                )
            self.record(records.run_finished(outcome.status, outcome.reason))
            return outcome

    # one stage
    def _stage(self, stage: RunStage) -> int:
        state = self.journal.state()
        if state.stage_outcomes.get(stage.name, "").startswith("completed"):
            return _failures(stage.members, state)
        self.log(f"stage {stage.name}: {', '.join(stage.members)}")
        self._gates(stage.before_gates, f"stage {stage.name} starts")
        self._plan_time_verdicts(stage)
        running: dict[str, tuple[Future[LeafResult], RunGroup]] = {}
        while True:
            state = self.journal.state()
            self._collect(running)
            state = self.journal.state()
            failed, why = self._policy_failed(stage, state)
            stopping = failed or state.stop_requested is not None
            launched = 0 if stopping else self._launch(stage, state, running)
            if running or launched:
                self.clock.sleep(self.poll)
                continue
            # Nothing in flight and nothing could start now.
            if not stopping and self._sleep_until_soaked(stage, state):
                continue
            if not stopping and self.wait_for_windows and self._sleep_until_window(stage, state):
                continue
            break
        state = self.journal.state()
        failed, why = self._policy_failed(stage, state)
        left = self._unprocessed(stage, state)
        if failed:
            self.record(records.stage_finished(stage.name, "failed", why))
            raise _StopError(
                FleetOutcome(
                    "failed",
                    f"stage {stage.name} failed: {why}; clusters in flight finished, nothing "
                    "new started. Fix or `eksup fleet skip`, then `eksup fleet retry` or "
                    "`eksup fleet resume`",
                )
            )
        if state.stop_requested is not None and left:
            raise _StopError(
                FleetOutcome(
                    "stopped",
                    f"stopped by {state.stop_requested}; `eksup fleet resume` starts with "
                    f"{left[0]}",
                )
            )
        if left:
            raise _StopError(FleetOutcome("stopped", self._waiting_reason(stage, state, left)))
        self._after(stage, state)
        failures = _failures(stage.members, state)
        outcome = "completed-with-failures" if failures else "completed"
        self.record(records.stage_finished(stage.name, outcome, failures=failures))
        note = f" with {failures} failure(s), within maxAllowedFailures" if failures else ""
        self.log(f"stage {stage.name} completed{note}")
        return failures

    def _gates(self, gates: list[str], what: str) -> None:
        state = self.journal.state()
        waiting = [g for g in gates if g not in state.approved]
        for gate in waiting:
            if gate not in state.waiting_gates:
                self.record(records.gate_waiting(gate))
        if waiting:
            raise _StopError(
                FleetOutcome(
                    "stopped",
                    f"{what} after approval: `eksup fleet approve {self.run_arg} --gate "
                    f"{waiting[0]}`, then `eksup fleet resume {self.run_arg}`",
                )
            )

    def _plan_time_verdicts(self, stage: RunStage) -> None:
        state = self.journal.state()
        for name in stage.members:
            cluster, current = self.run.cluster(name), state.cluster(name)
            if current.status is not ClusterStatus.PENDING or current.attempts:
                continue
            if cluster.verdict is ClusterVerdict.SKIPPED:
                self.record(records.cluster_ended(name, "skipped", cluster.reason, by="plan"))
            elif cluster.verdict in (ClusterVerdict.BLOCKED, ClusterVerdict.UNREACHABLE):
                why = f"{cluster.verdict.value} at plan time: {cluster.reason}"
                self.record(records.cluster_ended(name, "failed", why))

    def _policy_failed(self, stage: RunStage, state: FleetState) -> tuple[bool, str]:
        return policy_failed(self.run, stage, state)

    def _launchable(self, group: RunGroup, state: FleetState, name: str) -> bool:
        current = state.cluster(name)
        if f"{self._stage_of(name)}.{group.name}" in state.skipped_groups:
            return False
        if current.status is ClusterStatus.SOAKING:
            return current.soak_until is not None and current.soak_until <= self.clock.now()
        if current.status not in (ClusterStatus.PENDING, ClusterStatus.STOPPED):
            return False
        if any(g not in state.approved for g in group.before_gates):
            return False
        cluster = self.run.cluster(name)
        return not (cluster.window is not None and not is_open(cluster.window, self.clock.now()))

    def _stage_of(self, name: str) -> str:
        return self.run.cluster(name).stage

    def _launch(
        self,
        stage: RunStage,
        state: FleetState,
        running: dict[str, tuple[Future[LeafResult], RunGroup]],
    ) -> int:
        launched = 0
        for group in stage.groups:
            self._group_gates(stage, group, state)
            for name in group.members:
                if len(running) >= stage.max_concurrency:
                    return launched
                in_group = sum(1 for _, g in running.values() if g.name == group.name)
                if in_group >= group.max_concurrency:
                    break
                if name in running or not self._launchable(group, state, name):
                    continue
                if not self._upstream_ready(name, state):
                    continue
                launched += 1
                running[name] = (self._start(name, state), group)
        return launched

    def _group_gates(self, stage: RunStage, group: RunGroup, state: FleetState) -> None:
        key = f"{stage.name}.{group.name}"
        if key in state.skipped_groups:
            for name in group.members:
                if state.cluster(name).status in (ClusterStatus.PENDING, ClusterStatus.STOPPED):
                    why = f"group {key} skipped: {state.skipped_groups[key]}"
                    self.record(records.cluster_ended(name, "skipped", why, by="skip"))
            return
        for gate in group.before_gates:
            if gate not in state.approved and gate not in state.waiting_gates:
                self.record(records.gate_waiting(gate))

    def _upstream_ready(self, name: str, state: FleetState) -> bool:
        blocker = upstream_blocker(self.run, name, state)
        if blocker is None:
            return True
        self.record(records.cluster_ended(name, "failed", blocker))
        return False

    def _start(self, name: str, state: FleetState) -> Future[LeafResult]:
        cluster = self.run.cluster(name)
        soak_done = state.cluster(name).status is ClusterStatus.SOAKING
        self.record(records.cluster_started(name, cluster.stage))
        self.log(f"{name}: {'nodes after the soak' if soak_done else 'started'}")
        plan_file = cluster_plan_file(self.journal.directory, name)

        return self.pool.spawn(lambda: self.leaf(cluster, plan_file, soak_done))

    def _leaf(self, cluster: RunCluster, plan_file: Path, soak_done: bool) -> LeafResult:
        with self.opener(cluster) as target:
            return run_cluster(
                self.run, cluster, plan_file, target, self.clock, soak_done=soak_done, log=self.log
            )

    def _collect(self, running: dict[str, tuple[Future[LeafResult], RunGroup]]) -> None:
        for name, (future, _) in list(running.items()):
            if not future.done():
                continue
            del running[name]
            try:
                result = future.result()
            except Exception as error:
                result = LeafResult(ClusterStatus.FAILED, f"{type(error).__name__}: {error}")
            if result.status is ClusterStatus.SOAKING:
                assert result.soak_until is not None
                self.record(records.soak_until(records.cluster_step(name), result.soak_until))
                why = f"{result.detail} until {_when(result.soak_until)}"
                self.record(records.cluster_ended(name, "soaking", why))
                self.log(f"{name}: soaking until {_when(result.soak_until)}")
                continue
            detail = result.detail
            if result.status is ClusterStatus.WAITING:
                detail += f": `eksup fleet approve {self.run_arg} --cluster {name}`"
            self.record(records.cluster_ended(name, result.status.value, detail))
            self.log(f"{name}: {result.status.value}: {result.detail}")

    def _sleep_until_soaked(self, stage: RunStage, state: FleetState) -> bool:
        soaking = [
            c.soak_until
            for name in stage.members
            if (c := state.cluster(name)).status is ClusterStatus.SOAKING
            and c.soak_until is not None
        ]
        if not soaking:
            return False
        self.clock.sleep(max(0.0, min(soaking) - self.clock.now()))
        return True

    def _sleep_until_window(self, stage: RunStage, state: FleetState) -> bool:
        now = self.clock.now()
        opening = [
            next_open(cluster.window, now)
            for group in stage.groups
            if all(g in state.approved for g in group.before_gates)
            for name in group.members
            if (cluster := self.run.cluster(name)).window is not None
            and state.cluster(name).status in (ClusterStatus.PENDING, ClusterStatus.STOPPED)
            and not is_open(cluster.window, now)
        ]
        if not opening:
            return False
        # In slices, so a stop request is seen while the run waits for days.
        self.clock.sleep(min(WINDOW_SLICE_SECONDS, max(0.0, min(opening) - now)))
        return True

    def _unprocessed(self, stage: RunStage, state: FleetState) -> list[str]:
        return [
            name
            for name in stage.members
            if state.cluster(name).status not in (*DONE, ClusterStatus.FAILED)
        ]

    def _waiting_reason(self, stage: RunStage, state: FleetState, left: list[str]) -> str:
        reasons = []
        for name in left:
            cluster, current = self.run.cluster(name), state.cluster(name)
            if current.status is ClusterStatus.WAITING:
                reasons.append(f"{name} {current.reason}")
            elif cluster.window is not None and not is_open(cluster.window, self.clock.now()):
                opens = next_open(cluster.window, self.clock.now())
                reasons.append(f"{name} waits for its maintenance window (opens {_when(opens)})")
            else:
                group = next(g for g in stage.groups if name in g.members)
                gates = [g for g in group.before_gates if g not in state.approved]
                if gates:
                    reasons.append(f"{name} waits for gate {gates[0]}")
                else:
                    reasons.append(f"{name} {current.status.value}")
        return (
            f"stage {stage.name} waits: {'; '.join(reasons)}; then "
            f"`eksup fleet resume {self.run_arg}`"
        )

    def _after(self, stage: RunStage, state: FleetState) -> None:
        gates = [g for grp in stage.groups for g in grp.after_gates] + stage.after_gates
        until = state.stage_soak_until.get(stage.name)
        if stage.after_wait_seconds and until is None:
            until = self.clock.now() + stage.after_wait_seconds
            self.record(records.soak_until(records.stage_step(stage.name), until))
            self.log(f"stage {stage.name}: soaking until {_when(until)}")
        # The soak and the after-gates run at the same time; both must be done.
        self._gates(gates, f"stage {stage.name} completes")
        while until is not None and until > self.clock.now():
            stopper = self.journal.state().stop_requested
            if stopper is not None:
                raise _StopError(
                    FleetOutcome(
                        "stopped",
                        f"stopped by {stopper} while stage {stage.name} soaks (until "
                        f"{_when(until)}); `eksup fleet resume {self.run_arg}` waits out the rest",
                    )
                )
            # In slices, so a stop request is seen during a day-long soak.
            self.clock.sleep(min(WINDOW_SLICE_SECONDS, until - self.clock.now()))


_failures = failures
