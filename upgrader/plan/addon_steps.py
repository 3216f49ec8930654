"""The add-on steps of a hop: the hop's own, and the bridge before the control plane moves."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from upgrader.core.shell import quote
from upgrader.plan.addon_paths import addon_candidates, addon_key, addon_path, addon_updates
from upgrader.plan.document import AddonUpdate, Step, StepKind
from upgrader.plan.runbooks import RunbookStep
from upgrader.plan.step_params import AddonsParams
from upgrader.plan.step_templates import PlanContext, build_step, expand_lines
from upgrader.versions import KubeVersion


def addon_steps(
    ctx: PlanContext, template: RunbookStep, hop: KubeVersion, installed: dict[str, str]
) -> list[Step]:
    updates = addon_updates(ctx.snapshot, ctx.catalog, str(hop), installed)
    if not updates:
        return []
    for update in updates:
        installed[update.name] = update.target  # the next hop starts from here
    step = build_step(
        template,
        ctx,
        step_id=f"{template.id}-{hop}",
        target="addons",
        hop=hop,
        params=AddonsParams(
            version=str(hop),
            addons=[u.name for u in updates],
            addon_versions={u.name: u.target for u in updates},
        ),
        addon_updates=updates,
    )
    return [
        step.model_copy(
            update={
                "commands": _addon_lines(step.commands, updates),
                "verification": _addon_lines(step.verification, updates),
                "rollback": _addon_lines(step.rollback, updates),
            }
        )
    ]


def bridge_step_id(hop: str) -> str:
    return f"addons-before-{hop}"


def bridge_addon_steps(
    ctx: PlanContext,
    block: Sequence[RunbookStep],
    hop: KubeVersion,
    previous: KubeVersion,
    installed: dict[str, str],
) -> list[Step]:
    """Add-ons whose installed version does not run on `hop` move first to the newest version
    that runs on both minors (the `addon-compatibility` finding's advice, the same pick), so
    the control plane never runs an add-on it does not support; the add-on step after the
    hop then leaves them alone when they are already at or past its default."""
    template = next((t for t in block if t.kind is StepKind.ADDONS), None)
    if template is None:
        return []
    updates = []
    for name, current in sorted(installed.items()):
        now = {
            v.version
            for v in addon_candidates(
                ctx.snapshot.addon_versions.get(str(previous), ()), name, str(previous)
            )
        }
        then = {
            v.version
            for v in addon_candidates(ctx.snapshot.addon_versions.get(str(hop), ()), name, str(hop))
        }
        if not now or not then or current in then:
            continue
        bridge = now & then
        if not bridge:
            continue  # no version runs on both: the addon-compatibility check blocks
        pick = max(bridge, key=addon_key)
        if addon_key(pick) <= addon_key(current):
            continue
        # One minor at a time where the add-on asks for it (vpc-cni), each step a build that
        # runs on the control plane as it is now.
        path = addon_path(
            ctx.snapshot, ctx.catalog, name, current=current, target=pick, hop=str(previous)
        )
        updates.append(AddonUpdate(name=name, current=current, target=pick, path=path))
        installed[name] = pick
    if not updates:
        return []
    names = ", ".join(u.name for u in updates)
    step = build_step(
        template,
        ctx,
        step_id=bridge_step_id(str(hop)),
        target="addons",
        hop=hop,
        # The control plane is still on `previous`: the step's precondition checks that.
        params=AddonsParams(
            version=str(previous),
            addons=[u.name for u in updates],
            addon_versions={u.name: u.target for u in updates},
        ),
        addon_updates=updates,
    )
    return [
        step.model_copy(
            update={
                "title": f"Add-ons that do not run on {hop}, before the control plane moves",
                "description": f"{names}: the installed version does not run on Kubernetes "
                f"{hop}; each moves first to the newest version that runs on both {previous} "
                f"and {hop}, one at a time, each waited on until ACTIVE.",
                "commands": _addon_lines(step.commands, updates),
                "verification": _addon_lines(step.verification, updates),
                "rollback": _addon_lines(step.rollback, updates),
            }
        )
    ]


def _addon_lines(lines: list[str], updates: Sequence[AddonUpdate]) -> list[str]:
    def for_addon(update: AddonUpdate) -> Callable[[str], list[str]]:
        def make(line: str) -> list[str]:
            line = line.replace("<addon>", quote(update.name)).replace(
                "<previous version>", quote(update.current)
            )
            if "<default version>" in line and update.path:
                return [line.replace("<default version>", quote(v)) for v in update.path]
            return [line]

        return make

    return expand_lines(lines, "<addon>", [for_addon(u) for u in updates])
