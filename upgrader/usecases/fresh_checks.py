"""The pre-flight checks again, on the cluster as it is when a run starts or a step begins.

The verdict stored in a plan file is what the checks said when the plan was made, and anyone
who can edit the file can flip it. `execute` never lets it decide: the pre-flight step runs
every check on a fresh snapshot (with the `.eksup.yaml` in force now: an expired suppression
no longer silences anything), and a step that names checks (`verifies`) re-runs those right
before it starts. A blocking finding refuses the run before its first change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from upgrader.plan.checks import CheckContext, NodeStrategy, run_checks
from upgrader.plan.checks.config import Config
from upgrader.plan.discovery import discover
from upgrader.plan.document import Plan, Step, StepKind
from upgrader.usecases.targets import Target
from upgrader.versions import default_catalog


def fresh_checks(plan: Plan, target: Target, config: Config) -> Callable[[Step], list[str]]:
    """`checks(step)` for the engine: the blocking findings of a fresh read, all of them for a
    pre-flight step, the ones `step.verifies` names for any other."""
    catalog = default_catalog()

    def checks(step: Step) -> list[str]:
        wanted = None if step.kind is StepKind.PREFLIGHT else set(step.verifies)
        snapshot = discover(
            plan.cluster,
            target.control_plane,
            target.compute,
            target.kube,
            target.clock,
            kube_endpoint=target.kube_endpoint,
            kube_context=target.kube_context,
            target_version=plan.target_version,
            region=plan.region or None,
            catalog=catalog,
        )
        context = CheckContext(
            target=plan.target_version,
            catalog=catalog,
            today=dt.datetime.fromtimestamp(target.clock.now(), tz=dt.UTC).date(),
            strategy=NodeStrategy(plan.node_strategy),
            config=config,
        )
        findings = run_checks(snapshot, context, only=wanted)
        return [str(f) for f in findings if f.blocking]

    return checks
