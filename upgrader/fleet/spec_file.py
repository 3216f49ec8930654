"""Reading fleet.yaml: the schema (`upgrader.fleet.spec`), then what spans fields: unique names,
upstreams that exist and form no cycle, and stages that resolve (`upgrader.fleet.order`).
Apart from the schema because resolving the stages needs the order module, which reads the
schema's types.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from upgrader.core.errors import UserError
from upgrader.core.yaml_lines import line_of, load_with_lines, validate_file
from upgrader.fleet.order import OrderError, resolve_stages
from upgrader.fleet.spec import FleetSpec


def load_fleet_spec(path: Path) -> FleetSpec:
    """Read and check fleet.yaml: the schema, then what spans fields (names, upstreams, stages)."""
    spec = validate_file(path, FleetSpec)
    _, lines = load_with_lines(path)

    def fail(loc: tuple[str | int, ...], message: str) -> UserError:
        field = ".".join(str(p) for p in loc)
        return UserError(f"{path}:{line_of(loc, lines)}: {field}: {message}")

    names: dict[str, int] = {}
    for index, cluster in enumerate(spec.clusters):
        if cluster.name in names:
            raise fail(("clusters", index, "name"), f"cluster {cluster.name} is listed twice")
        names[cluster.name] = index
    for index, cluster in enumerate(spec.clusters):
        if cluster.upstream is not None and cluster.upstream not in names:
            raise fail(
                ("clusters", index, "upstream"),
                f"no cluster named {cluster.upstream}: name one of {', '.join(names)}",
            )
        if cluster.upstream == cluster.name:
            raise fail(("clusters", index, "upstream"), "a cluster cannot be its own upstream")
    _refuse_cycles(spec, fail)
    seen: set[str] = set()
    for index, stage in enumerate(spec.stages):
        if stage.name in seen:
            raise fail(("stages", index, "name"), f"stage {stage.name} is named twice")
        seen.add(stage.name)
        groups = {g.name for g in stage.groups}
        if len(groups) != len(stage.groups):
            raise fail(("stages", index, "groups"), "two groups share a name")
    # Membership and upstream order are checked where the stages are resolved.
    try:
        resolve_stages(spec)
    except OrderError as error:
        raise fail(error.loc, str(error)) from None
    return spec


def _refuse_cycles(
    spec: FleetSpec, fail: Callable[[tuple[str | int, ...], str], UserError]
) -> None:
    upstream = {c.name: c.upstream for c in spec.clusters}
    for index, cluster in enumerate(spec.clusters):
        seen, current = {cluster.name}, cluster.upstream
        while current is not None:
            if current in seen:
                raise fail(("clusters", index, "upstream"), f"upstreams form a cycle at {current}")
            seen.add(current)
            current = upstream[current]
