"""The engine tests' runner and fault-injecting wrappers, beside the small sandbox world and
hand-made plans they run (the sandbox's `upgrade_world`, which the execute benchmark shares).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upgrader.core.kube import Pod, PodSpec, Resources, WorkloadKind
from upgrader.execute.engine import ExecuteOptions, Ports, RunResult, execute
from upgrader.execute.reporter import PlainReporter
from upgrader.plan.document import Plan, Step
from upgrader.sandbox.upgrade_world import (
    CLUSTER,
    MIB,
    SUBNETS,
    addons,
    blue_green,
    build_upgrade_world,
    control_plane,
    full_plan,
    hand_plan,
    in_place,
    step,
)
from upgrader.sandbox.upgrade_world import app_workload as _app
from upgrader.sandbox.world import Sandbox

# The names the engine tests import from here.
build_world = build_upgrade_world
__all__ = [
    "CLUSTER",
    "MIB",
    "SUBNETS",
    "CountingControlPlane",
    "Crash",
    "CrashingReporter",
    "Delegate",
    "Runner",
    "_app",
    "add_bare_pod",
    "addons",
    "blue_green",
    "build_world",
    "control_plane",
    "full_plan",
    "hand_plan",
    "in_place",
    "ready_workloads",
    "step",
]


class Crash(BaseException):
    """An injected crash. A BaseException, so the engine's `except Exception` does not see it:
    like a SIGKILL, it leaves the journal without an end for the step it interrupts."""


def add_bare_pod(world: Sandbox, name: str = "debug") -> Pod:
    return world.kube(CLUSTER).add_pod(
        Pod(
            namespace="default",
            name=name,
            uid=name,
            labels={"run": name},
            spec=PodSpec(requests=Resources(100, 64 * MIB, 1)),
        )
    )


def ready_workloads(world: Sandbox) -> set[str]:
    return {
        f"{w.kind.value}/{w.namespace}/{w.name}"
        for w in world.kube(CLUSTER).list_workloads()
        if w.kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET)
        and w.replicas
        and w.ready_replicas >= w.replicas
    }


# -- running -------------------------------------------------------------------------------------


@dataclass
class Runner:
    """Runs plans on one world, collecting what the reporter said."""

    world: Sandbox
    tmp_path: Path
    out: io.StringIO = field(default_factory=io.StringIO)
    questions: list[str] = field(default_factory=list)
    answer: bool = True

    @property
    def journal_path(self) -> Path:
        return self.tmp_path / "plan.journal.jsonl"

    def ports(self, **overrides: Any) -> Ports:
        base: dict[str, Any] = {
            "cluster": self.world.kube(CLUSTER),
            "control_plane": self.world.aws,
            "compute": self.world.aws,
            "clock": self.world.clock,
        }
        base.update(overrides)
        return Ports(**base)

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer

    def run(
        self,
        plan: Plan,
        *,
        ports: Ports | None = None,
        reporter: Any = None,
        should_stop: Callable[[], bool] = lambda: False,
        **options: Any,
    ) -> RunResult:
        settings: dict[str, Any] = {"yes": True, "skip_fingerprint": True}
        settings.update(options)
        return execute(
            plan,
            ports or self.ports(),
            journal_path=self.journal_path,
            options=ExecuteOptions(**settings),
            reporter=reporter or PlainReporter(self.out, self.world.clock),
            confirm=self.confirm,
            should_stop=should_stop,
        )


# -- fault injection -----------------------------------------------------------------------------


class Delegate:
    """Passes every call to `inner` unless a subclass says otherwise."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_MUTATING = (
    "update_cluster_version",
    "create_nodegroup",
    "delete_nodegroup",
    "update_nodegroup_version",
    "update_addon",
    "update_nodegroup_scaling",
)


class CountingControlPlane(Delegate):
    """Counts the mutating calls that reached AWS, across every run that uses it; `crash_after`
    raises Crash right after the n-th call of a method returned (the journal has not heard)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.calls: Counter[str] = Counter()
        self.crash_after: dict[str, int] = {}
        self.fail_reads: dict[str, list[BaseException]] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name in _MUTATING:

            def call(*args: Any, **kwargs: Any) -> Any:
                result = target(*args, **kwargs)
                self.calls[name] += 1
                if self.crash_after.get(name) == self.calls[name]:
                    raise Crash(f"crash after {name} #{self.calls[name]}")
                return result

            return call
        if self.fail_reads.get(name):

            def failing(*args: Any, **kwargs: Any) -> Any:
                errors = self.fail_reads[name]
                if errors:
                    raise errors.pop(0)
                return target(*args, **kwargs)

            return failing
        return target


class CrashingReporter(PlainReporter):
    """Crashes at chosen moments: ("started", step) before the journal hears of the step,
    ("finished", step) after it recorded the end, ("action", text) after the journal recorded
    a change and before it is made."""

    def __init__(self, runner: Runner, at: tuple[str, str]) -> None:
        super().__init__(runner.out, runner.world.clock)
        self.at = at
        self.fired = False

    def _maybe(self, event: str, subject: str) -> None:
        kind, text = self.at
        if not self.fired and kind == event and text in subject:
            self.fired = True
            raise Crash(f"crash at {event} {subject}")

    def step_started(self, step: Step, index: int, total: int) -> None:
        super().step_started(step, index, total)
        self._maybe("started", step.id)

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        super().step_finished(step, detail, seconds)
        self._maybe("finished", step.id)

    def action(self, description: str, *, dry_run: bool) -> None:
        super().action(description, dry_run=dry_run)
        self._maybe("action", description)
