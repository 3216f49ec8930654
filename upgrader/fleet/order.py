"""From fleet.yaml's stages and selectors to concrete stages, groups and members.

Rules (Azure Fleet Manager's, made strict where its users were surprised, kubefleet#638 and
rancher/fleet#3828): every cluster is in exactly one stage and, in a stage with groups, exactly
one group; a cluster matched by nothing is an error, not silently left out. A cluster's upstream
(its management cluster) is in an earlier stage, so it reaches the target, and soaks, first.
"""

from __future__ import annotations

from dataclasses import dataclass

from upgrader.fleet.selectors import parse_selector
from upgrader.fleet.spec import FleetSpec, Gate, Window, allowance_of, concurrency_of

STAGE_DEFAULT_CONCURRENCY = 50  # Azure's stage default: the ceiling across its groups
GROUP_DEFAULT_CONCURRENCY = 1  # Azure's group default: members one at a time


class OrderError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True)
class Group:
    name: str
    members: tuple[str, ...]
    max_concurrency: int
    allowed_failures: int
    before_gates: tuple[str, ...]
    after_gates: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    name: str
    groups: tuple[Group, ...]
    max_concurrency: int
    allowed_failures: int
    after_wait_seconds: int
    before_gates: tuple[str, ...]
    after_gates: tuple[str, ...]
    window: Window | None

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(m for g in self.groups for m in g.members)


def gate_id(stage: str, group: str | None, when: str, gate: Gate) -> str:
    """A gate's id in the run: `dev/before/qa-signoff`, `prod.eu/after/cab`."""
    where = stage if group is None else f"{stage}.{group}"
    return f"{where}/{when}/{gate.name}"


def resolve_stages(spec: FleetSpec) -> tuple[Stage, ...]:
    placed: dict[str, str] = {}
    stages: list[Stage] = []
    for s_index, stage in enumerate(spec.stages):
        selector = parse_selector(stage.selector)
        members = [c.name for c in spec.clusters if selector.matches(c.labels)]
        for name in members:
            if name in placed:
                raise OrderError(
                    ("stages", s_index, "selector"),
                    f"cluster {name} is already in stage {placed[name]}: a cluster is upgraded "
                    "in one stage",
                )
            placed[name] = stage.name
        if not members:
            raise OrderError(("stages", s_index, "selector"), "selects no cluster")
        groups = _groups(spec, s_index, members)
        stage_cap = concurrency_of(stage.max_concurrency, len(members), STAGE_DEFAULT_CONCURRENCY)
        stages.append(
            Stage(
                name=stage.name,
                groups=groups,
                max_concurrency=stage_cap,
                allowed_failures=allowance_of(stage.max_allowed_failures, len(members)),
                after_wait_seconds=stage.after_stage_wait,
                before_gates=tuple(
                    gate_id(stage.name, None, "before", g) for g in stage.before_gates
                ),
                after_gates=tuple(gate_id(stage.name, None, "after", g) for g in stage.after_gates),
                window=stage.window,
            )
        )
    for index, cluster in enumerate(spec.clusters):
        if cluster.name not in placed:
            raise OrderError(
                ("clusters", index, "labels"),
                f"cluster {cluster.name} is in no stage: give it labels a stage selects",
            )
    order = {s.name: i for i, s in enumerate(stages)}
    for s_index, resolved in enumerate(stages):
        for name in resolved.members:
            up = spec.cluster(name).upstream
            if up is not None and order[placed[up]] >= s_index:
                raise OrderError(
                    ("stages", s_index, "selector"),
                    f"cluster {name} is in stage {resolved.name} but its upstream {up} is in stage "
                    f"{placed[up]}: an upstream cluster is upgraded in an earlier stage",
                )
    return tuple(stages)


def _groups(spec: FleetSpec, s_index: int, members: list[str]) -> tuple[Group, ...]:
    stage = spec.stages[s_index]
    if not stage.groups:
        cap = concurrency_of(stage.max_concurrency, len(members), GROUP_DEFAULT_CONCURRENCY)
        allowed = allowance_of(stage.max_allowed_failures, len(members))
        return (Group(stage.name, tuple(members), cap, allowed, (), ()),)
    chosen: dict[str, str] = {}
    groups: list[Group] = []
    for g_index, group in enumerate(stage.groups):
        selector = parse_selector(group.selector)
        inside = [m for m in members if selector.matches(spec.cluster(m).labels)]
        for name in inside:
            if name in chosen:
                raise OrderError(
                    ("stages", s_index, "groups", g_index, "selector"),
                    f"cluster {name} is also in group {chosen[name]}: a cluster is in one group",
                )
            chosen[name] = group.name
        if not inside:
            raise OrderError(
                ("stages", s_index, "groups", g_index, "selector"), "selects no cluster"
            )
        groups.append(
            Group(
                name=group.name,
                members=tuple(inside),
                max_concurrency=concurrency_of(
                    group.max_concurrency, len(inside), GROUP_DEFAULT_CONCURRENCY
                ),
                allowed_failures=allowance_of(group.max_allowed_failures, len(inside)),
                before_gates=tuple(
                    gate_id(stage.name, group.name, "before", g) for g in group.before_gates
                ),
                after_gates=tuple(
                    gate_id(stage.name, group.name, "after", g) for g in group.after_gates
                ),
            )
        )
    missing = [m for m in members if m not in chosen]
    if missing:
        raise OrderError(
            ("stages", s_index, "groups"),
            f"stage {stage.name} selects {', '.join(missing)} but no group does: add a group "
            "for them",
        )
    return tuple(groups)
