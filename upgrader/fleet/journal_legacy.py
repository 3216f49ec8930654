"""The fleet journal an earlier eksup wrote, read as today's records.

Before the fleet run became a client of the run engine, its journal held one event per line,
`{"seq", "at", "kind", ...}`. A run begun with that version resumes with this one: each old
line is converted on read, under the run id `legacy` (its seq numbers the converted records in
order), and the coordinator appends today's records after them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upgrader.fleet.records import (
    Entry,
    Request,
    approved,
    argo_submitted,
    cluster_ended,
    cluster_started,
    cluster_step,
    gate_step,
    gate_waiting,
    group_step,
    request,
    run_finished,
    run_started,
    soak_until,
    stage_finished,
    stage_step,
)

LEGACY_RUN = "legacy"


def is_legacy(raw: object) -> bool:
    return isinstance(raw, dict) and "kind" in raw and "v" not in raw


def _skipped(r: dict[str, Any]) -> list[Entry]:
    # The coordinator skipped a cluster for the plan or for its skipped group; a person asked.
    if r.get("by") in ("plan", "skip"):
        return [cluster_ended(r["cluster"], "skipped", r["reason"], by=r["by"])]
    return [request(Request.SKIP, str(r.get("by", "")), cluster_step(r["cluster"]), r["reason"])]


_CONVERT: dict[str, Callable[[dict[str, Any]], list[Entry]]] = {
    "run-started": lambda r: [run_started(str(r.get("by", "")), str(r.get("engine", "local")))],
    "run-finished": lambda r: [run_finished(r["status"], r["reason"])],
    "argo-submitted": lambda r: [argo_submitted("", r["server"], r["namespace"], r["name"])],
    "cluster-started": lambda r: [cluster_started(r["cluster"], r["stage"])],
    "cluster-soaking": lambda r: [
        soak_until(cluster_step(r["cluster"]), float(r["until"])),
        cluster_ended(r["cluster"], "soaking", str(r.get("reason", ""))),
    ],
    "cluster-finished": lambda r: [cluster_ended(r["cluster"], r["outcome"], r["detail"])],
    "cluster-approved": lambda r: [approved(cluster_step(r["cluster"]), r["by"])],
    "cluster-skipped": _skipped,
    "group-skipped": lambda r: [
        request(Request.SKIP, "", group_step(r["stage"], r["group"]), r["reason"])
    ],
    "cluster-retry": lambda r: [
        request(Request.RETRY, r["by"], cluster_step(r["cluster"]), stage=r["stage"])
    ],
    "gate-waiting": lambda r: [gate_waiting(r["gate"])],
    "gate-approved": lambda r: [approved(gate_step(r["gate"]), r["by"], str(r.get("comment", "")))],
    "stage-soak": lambda r: [soak_until(stage_step(r["stage"]), float(r["until"]))],
    "stage-finished": lambda r: [
        stage_finished(
            r["stage"], r["outcome"], str(r.get("reason", "")), int(r.get("failures", 0))
        )
    ],
    "stop-requested": lambda r: [request(Request.STOP, r["by"])],
}


def legacy_entries(raw: dict[str, Any]) -> list[Entry]:
    """What one old line says, as entries; ValueError for a line no eksup wrote."""
    convert = _CONVERT.get(str(raw["kind"]))
    if convert is None:
        raise ValueError(f"unknown event kind {raw['kind']!r}")
    entries = convert(raw)
    # Old values were JSON of any type; a record's are text.
    return [
        Entry(
            e.phase, e.step, str(e.outcome), str(e.detail), {k: str(v) for k, v in e.data.items()}
        )
        for e in entries
    ]
