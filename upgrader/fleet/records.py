"""What a fleet run's journal says, as the run engine's records (`upgrader.core.run.records`).

A fleet run is one more client of the run engine: its journal is the same file format as an
upgrade's or a rollout's, one `Record` per line. This module is the mapping, in one place, used
by the coordinator when it writes, by the other terminals' commands, and by the reader of a
journal written by an earlier eksup (`upgrader.fleet.journal_legacy`).

Steps are stable ids: `cluster/<name>`, `stage/<name>`, `gate/<gate>` (gates are already
`stage/before|after/name`), `group/<stage>.<group>`.

- `run-started`: a coordinator began (data `by`, `engine`, `holder`, `fleet_run`), or the run
  was submitted to Argo (data `engine` "argo", `server`, `namespace`, `workflow`).
- `started` cluster/X (data `stage`); its end: `finished` (outcome succeeded), `failed`,
  `skipped`, `stopped`, or `waiting` (outcome `waiting`: at its own approval gate; `soaking`:
  its control plane is done and its nodes wait), outcome always the cluster's status, detail
  why. A cluster soaking is preceded by a `memo` of its deadline.
- `memo` (data `key` "<step>#soak-until", `value` epoch seconds as text): soak deadlines of a
  cluster or a stage.
- `waiting` gate/G (outcome `approval`): the run waits for `eksup fleet approve --gate G`.
- `finished` or `failed` stage/S: outcome completed, completed-with-failures or failed; data
  `failures`.
- `requested`, written by another terminal under its own run id (`q-...`): outcome `stop`
  (no step), `skip` (cluster/X or group/S.G, detail the reason), `retry` (cluster/X, data
  `stage`); data `for_run` (the coordinator asked, "" when none ran yet) and `by`. Skip and
  retry take effect when written (a run stopped waits for them); the coordinator `answered`
  each once it took it in.
- `approved`, by `eksup fleet approve` under its own run id (`a-...`): gate/G or cluster/X,
  data `by`, `host`, `comment`.
- `run-finished`: outcome completed, completed-with-failures, failed or stopped; detail why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from upgrader.core.run.records import Phase


class Request(StrEnum):
    STOP = "stop"
    SKIP = "skip"
    RETRY = "retry"


@dataclass(frozen=True)
class Entry:
    """A record before the journal gives it its run, seq and time."""

    phase: Phase
    step: str | None = None
    outcome: str = ""
    detail: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


CLUSTER, STAGE, GATE, GROUP = "cluster/", "stage/", "gate/", "group/"
SOAK_KEY = "#soak-until"


def cluster_step(name: str) -> str:
    return CLUSTER + name


def stage_step(name: str) -> str:
    return STAGE + name


def gate_step(gate: str) -> str:
    return GATE + gate


def group_step(stage: str, group: str) -> str:
    return f"{GROUP}{stage}.{group}"


def soak_key(step: str) -> str:
    return step + SOAK_KEY


# A cluster's status (`upgrader.fleet.state.ClusterStatus`) when its leaf ended, as a phase.
END_PHASES = {
    "succeeded": Phase.FINISHED,
    "failed": Phase.FAILED,
    "skipped": Phase.SKIPPED,
    "stopped": Phase.STOPPED,
    "waiting": Phase.WAITING,
    "soaking": Phase.WAITING,
}


def run_started(by: str, engine: str, fleet_run: str = "", holder: str = "") -> Entry:
    data = {"by": by, "engine": engine, "fleet_run": fleet_run, "holder": holder}
    return Entry(Phase.RUN_STARTED, data={k: v for k, v in data.items() if v})


def argo_submitted(by: str, server: str, namespace: str, workflow: str) -> Entry:
    data = {"by": by, "engine": "argo", "server": server, "namespace": namespace}
    return Entry(Phase.RUN_STARTED, detail="submitted to Argo", data={**data, "workflow": workflow})


def run_finished(status: str, reason: str) -> Entry:
    return Entry(Phase.RUN_FINISHED, outcome=status, detail=reason)


def cluster_started(name: str, stage: str) -> Entry:
    return Entry(Phase.STARTED, cluster_step(name), data={"stage": stage})


def cluster_ended(name: str, status: str, detail: str, by: str = "") -> Entry:
    data = {"by": by} if by else {}
    return Entry(END_PHASES[status], cluster_step(name), outcome=status, detail=detail, data=data)


def soak_until(step: str, until: float) -> Entry:
    # repr: the exact float back (a deadline read back one second early would end a soak early).
    return Entry(Phase.MEMO, step, data={"key": soak_key(step), "value": repr(float(until))})


def gate_waiting(gate: str) -> Entry:
    return Entry(Phase.WAITING, gate_step(gate), outcome="approval")


def stage_finished(stage: str, outcome: str, detail: str = "", failures: int = 0) -> Entry:
    phase = Phase.FAILED if outcome == "failed" else Phase.FINISHED
    return Entry(
        phase, stage_step(stage), outcome=outcome, detail=detail, data={"failures": str(failures)}
    )


def request(
    what: Request, by: str, step: str | None = None, detail: str = "", **data: str
) -> Entry:
    """A request from another terminal; the writer adds `for_run`."""
    detail = detail or f"{what.value} requested by {by}"
    return Entry(Phase.REQUESTED, step, outcome=what.value, detail=detail, data={"by": by, **data})


def approved(step: str, by: str, comment: str = "", host: str = "") -> Entry:
    data = {"by": by, "comment": comment, "host": host}
    return Entry(Phase.APPROVED, step, data={k: v for k, v in data.items() if v or k == "by"})
