"""What a run was allowed to do, kept in the journal so that `--resume` continues with it.

Some `execute` options widen what a run may do to workloads: evicting pods no controller owns
(`--force`), losing emptyDir data, raising replicas (`--surge`), cutting grace periods, waiting
longer. A person who gave them to the first run consented to them for the whole plan; a
`--resume` typed from a pasted hint must neither forget them (and fail half-way, leaving the
cluster half upgraded) nor need them retyped. So each run journals them (`run-started`
data, key `consent`), `--resume` reads them back (all runs together), adds its own flags,
and says which it reuses. The command printed for resuming is built from the same options
(`resume_command`), quoted by `upgrader.core.shell`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from upgrader.core.run.journal import Phase, Record
from upgrader.core.shell import command
from upgrader.execute.steps.base import ExecuteOptions, Timeouts

CONSENT_KEY = "consent"
_FLAGS = {  # boolean option -> its flag
    "force": "--force",
    "delete_emptydir_data": "--delete-emptydir-data",
    "surge": "--surge",
}
_VALUES = {  # option -> its flag; None means "each pod's own" / "the plan's"
    "grace_period_seconds": "--grace-period",
    "max_grace_period_seconds": "--max-grace-period",
    "drain_timeout_seconds": "--drain-timeout",
}


def consent_of(options: ExecuteOptions) -> dict[str, Any]:
    """The widening options of a run, as journaled."""
    found: dict[str, Any] = {name: getattr(options, name) for name in (*_FLAGS, *_VALUES)}
    found["timeouts"] = dataclasses.asdict(options.timeouts)
    return found


def consent_data(options: ExecuteOptions) -> dict[str, str]:
    """`run-started` data for the journal."""
    return {CONSENT_KEY: json.dumps(consent_of(options), sort_keys=True)}


def journaled_consent(records: Iterable[Record]) -> dict[str, Any] | None:
    """What the runs of the journal were allowed, together: a flag any run was given, the
    last value any run set (a resume that added `--force` gave consent too). None for a
    journal without any."""
    merged: dict[str, Any] = {}
    for record in records:
        if record.phase is not Phase.RUN_STARTED or CONSENT_KEY not in record.data:
            continue
        try:
            found = json.loads(record.data[CONSENT_KEY])
        except ValueError:
            continue
        if not isinstance(found, dict):
            continue
        for key, value in found.items():
            if key in _FLAGS:
                merged[key] = bool(merged.get(key)) or value is True
            elif value is not None:
                merged[key] = value
    return merged or None


def resumed(options: ExecuteOptions, records: Sequence[Record]) -> tuple[ExecuteOptions, str]:
    """`options` widened by what the first run was allowed, and a line saying what was reused
    ("" when nothing was). A flag given now that the first run lacked is kept: it is this
    person's consent, given now."""
    earlier = journaled_consent(records)
    if not earlier:
        return options, ""
    changes: dict[str, Any] = {}
    for name in _FLAGS:
        if earlier.get(name) is True and not getattr(options, name):
            changes[name] = True
    for name in _VALUES:
        value = earlier.get(name)
        if isinstance(value, int | float) and getattr(options, name) is None:
            changes[name] = int(value) if name != "drain_timeout_seconds" else float(value)
    timeouts = earlier.get("timeouts")
    if isinstance(timeouts, dict) and options.timeouts == Timeouts():
        known = {f.name for f in dataclasses.fields(Timeouts)}
        kept = {k: float(v) for k, v in timeouts.items() if k in known}
        if kept and Timeouts(**kept) != options.timeouts:
            changes["timeouts"] = Timeouts(**kept)
    if not changes:
        return options, ""
    widened = dataclasses.replace(options, **changes)
    shown = " ".join(_option_words(widened, only=set(changes)))
    return widened, f"resuming with the first run's options: {shown}"


def _option_words(options: ExecuteOptions, only: set[str] | None = None) -> list[str]:
    words: list[str] = []
    for name, flag in _FLAGS.items():
        if getattr(options, name) and (only is None or name in only):
            words.append(flag)
    for name, flag in _VALUES.items():
        value = getattr(options, name)
        if value is not None and (only is None or name in only):
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if only is not None and "timeouts" in only:
        words.append("(and its wait timeouts)")
    return words


def resume_command(
    plan_file: str, options: ExecuteOptions, target_flags: Sequence[str] = ()
) -> str:
    """The complete `eksup execute ... --resume` that continues with the same consent."""
    words = ["eksup", "execute", plan_file, "--resume", *target_flags]
    # --drain-timeout is not an execute flag: the journal carries it (`resumed`).
    shown = set(_FLAGS) | {"grace_period_seconds", "max_grace_period_seconds"}
    return command(*words, *_option_words(options, only=shown))
