"""The node steps of a stage: managed groups, self-managed groups, Karpenter pools, Fargate."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from upgrader.core.aws import Nodegroup
from upgrader.core.errors import UserError
from upgrader.core.kube import KARPENTER_NODECLASS_LABEL, WorkloadKind
from upgrader.core.shell import Raw, command
from upgrader.plan.ami_move import green_ami_type
from upgrader.plan.document import Step, StepKind
from upgrader.plan.drain_estimate import estimate_drain
from upgrader.plan.node_units import Lineage, NodeUnit
from upgrader.plan.runbooks import RunbookStep
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind
from upgrader.plan.step_params import (
    BlueGreenParams,
    FargateParams,
    InPlaceParams,
    KarpenterParams,
    SelfManagedParams,
    StepParams,
)
from upgrader.plan.step_templates import PlanContext, build_step, expand_lines
from upgrader.versions import KubeVersion

# A drain is given at least twice its budget bound: start-up times vary, and replacements queue
# behind each other on a fresh green group.
DRAIN_TIMEOUT_MARGIN = 2.0
_RESTARTABLE = (WorkloadKind.DEPLOYMENT.value, WorkloadKind.STATEFUL_SET.value)


def version_before(unit: NodeUnit, moves: Sequence[KubeVersion], stage: KubeVersion) -> str:
    before = [v for v in moves if v < stage]
    start = before[-1] if before else unit.version
    return str(start) if start else ""


def _ami(
    ctx: PlanContext, version: KubeVersion, ami_type: str | None
) -> tuple[str | None, str | None]:
    """(SSM parameter, AMI id) of the recommended AMI at `version`, when known."""
    if not ami_type:
        return None, None
    try:
        parameter = ctx.catalog.ami_parameter(version, ami_type)
    except UserError:
        return None, None
    return parameter, ctx.snapshot.ami_ids.get(parameter) if parameter else None


def _max_unavailable(group: Nodegroup | None) -> str:
    if group is None:
        return "1"
    config = group.update_config
    if config.max_unavailable_percentage is not None:
        return f"{config.max_unavailable_percentage}%"
    return str(config.max_unavailable or 1)


def managed_step(
    ctx: PlanContext,
    template: RunbookStep,
    stage: KubeVersion,
    unit: NodeUnit,
    moves: Sequence[KubeVersion],
    *,
    lineage: Lineage,
) -> Step:
    group = ctx.snapshot.nodegroup_by_name.get(unit.name)
    in_place = template.kind is StepKind.NODEGROUP_IN_PLACE
    blue, green = (unit.name, unit.name) if in_place else lineage.advance(unit.name, stage)
    ami_type = group.ami_type if group else None
    if not in_place:
        ami_type = green_ami_type(ctx.ami_family, ami_type)
    parameter, ami_id = _ami(ctx, stage, ami_type)
    common = {
        "nodegroup": blue,
        "original_nodegroup": unit.name,
        "version": str(stage),
        "from_version": version_before(unit, moves, stage),
        "ami_type": ami_type,
        "ami_parameter": parameter,
        "ami_id": ami_id,
        "max_unavailable": ctx.max_unavailable or _max_unavailable(group),
    }
    timeout = ctx.drain_timeout_seconds
    params: StepParams
    if in_place:
        params = InPlaceParams.model_validate(common)
    else:
        timeout = _drain_timeout(ctx, NodeOwner(NodeOwnerKind.MANAGED, unit.name))
        params = BlueGreenParams.model_validate(
            {
                **common,
                "green_nodegroup": green,
                "taint": ctx.taint,
                "drain_timeout_seconds": timeout,
            }
        )
    return build_step(
        template,
        ctx,
        step_id=f"{template.id}-{unit.name}-{stage}",
        target=f"nodegroup/{blue}",
        hop=stage,
        values={
            "nodegroup": blue,
            "green_nodegroup": green,
            "drain_timeout": f"{timeout}s",
            **placeholder_values(params),
        },
        params=params,
    )


def _drain_timeout(ctx: PlanContext, owner: NodeOwner) -> int:
    """The configured timeout, raised to twice the group's budget bound when that is longer:
    a drain given less time than its budgets need fails half-way, with blue cordoned."""
    bound = ctx.drain_bounds.get(owner)
    if bound is None:
        nodes = [n.name for n in ctx.snapshot.nodes_by_owner.get(owner, ())]
        bound = ctx.drain_bounds[owner] = estimate_drain(ctx.snapshot, nodes).seconds
    return max(ctx.drain_timeout_seconds, math.ceil(DRAIN_TIMEOUT_MARGIN * bound))


def trailing_step(
    ctx: PlanContext,
    template: RunbookStep,
    stage: KubeVersion,
    unit: NodeUnit,
    moves: Sequence[KubeVersion],
) -> Step:
    common = {
        "nodegroup": unit.name,
        "version": str(stage),
        "from_version": version_before(unit, moves, stage),
    }
    prefix = "asg"
    params: StepParams
    if unit.owner is NodeOwnerKind.SELF_MANAGED:
        params = SelfManagedParams.model_validate(
            {**common, **_self_managed_params(ctx, stage, unit.name)}
        )
    else:
        prefix = "nodepool"
        node_class = _node_class_of_pool(ctx.snapshot, unit.name)
        params = KarpenterParams.model_validate({**common, "node_class": node_class})
    values = placeholder_values(params)
    if unit.owner is NodeOwnerKind.KARPENTER and "node_class" not in values:
        # No node to read it from: the commands look it up in the NodePool.
        lookup = "jsonpath={.spec.template.spec.nodeClassRef.name}"
        read = command("kubectl", "get", "nodepool", unit.name, "-o", lookup)
        # Unquoted: Kubernetes names hold no blank or glob character to split on.
        values["node_class"] = Raw(f"$({read})")
    return build_step(
        template,
        ctx,
        step_id=f"{template.id}-{unit.name}-{stage}",
        target=f"{prefix}/{unit.name}",
        hop=stage,
        values=values,
        params=params,
    )


def _self_managed_params(ctx: PlanContext, stage: KubeVersion, name: str) -> dict[str, object]:
    group = next(g for g in ctx.snapshot.self_managed_groups if g.name == name)
    ref = group.asg.launch_template
    ami_type = _ami_type_of_image(ctx, group.image_id)
    parameter, ami_id = _ami(ctx, stage, ami_type)
    return {
        "launch_template": ref.id if ref else None,
        "launch_template_version": ref.version if ref and ref.version else None,
        "image_id": group.image_id,
        "ami_type": ami_type,
        "ami_parameter": parameter,
        "ami_id": ami_id,
        "taint": ctx.taint,
        "drain_timeout_seconds": _drain_timeout(ctx, NodeOwner(NodeOwnerKind.SELF_MANAGED, name)),
    }


def _node_class_of_pool(snapshot: ClusterSnapshot, pool: str) -> str | None:
    """The EC2NodeClass a Karpenter pool's nodes were launched from (their label), when they
    agree on one; else the step reads it from the NodePool when it runs."""
    nodes = snapshot.nodes_by_owner.get(NodeOwner(NodeOwnerKind.KARPENTER, pool), ())
    classes = {n.labels.get(KARPENTER_NODECLASS_LABEL) for n in nodes}
    return classes.pop() if len(classes) == 1 else None


def _ami_type_of_image(ctx: PlanContext, image_id: str | None) -> str | None:
    """The AMI type whose recommended image (at the current version) the group runs."""
    if not image_id:
        return None
    for ami_type in ctx.catalog.data.amis.ssm_parameters:
        parameter, ami_id = _ami(ctx, ctx.current, ami_type)
        if parameter and ami_id == image_id:
            return ami_type
    return None


def fargate_step(
    ctx: PlanContext,
    template: RunbookStep,
    stage: KubeVersion,
    unit: NodeUnit,
    moves: Sequence[KubeVersion],
) -> Step:
    workloads = _fargate_workloads(ctx.snapshot)
    step = build_step(
        template,
        ctx,
        step_id=f"{template.id}-{stage}",
        target="fargate",
        hop=stage,
        params=FargateParams(
            version=str(stage),
            from_version=version_before(unit, moves, stage),
            profiles=sorted(p.name for p in ctx.snapshot.fargate_profiles),
            workloads=workloads,
        ),
    )

    def restart(workload: str) -> Callable[[str], list[str]]:
        kind, namespace, name = workload.split("/", 2)
        restart = command(
            "kubectl", "-n", namespace, "rollout", "restart", f"{kind.lower()}/{name}"
        )
        return lambda line: [line.replace("kubectl rollout restart <workload on Fargate>", restart)]

    marker = "<workload on Fargate>"
    return step.model_copy(
        update={"commands": expand_lines(step.commands, marker, [restart(w) for w in workloads])}
    )


def _fargate_workloads(snapshot: ClusterSnapshot) -> list[str]:
    """ "Kind/namespace/name" of every Deployment or StatefulSet with a pod on Fargate."""
    fargate = snapshot.nodes_by_owner.get(NodeOwner(NodeOwnerKind.FARGATE, ""), ())
    found = set()
    for node in fargate:
        for pod in snapshot.pods_by_node.get(node.name, ()):
            controller = snapshot.controller_of(pod)
            if controller and controller[0] in _RESTARTABLE:
                found.add(f"{controller[0]}/{pod.namespace}/{controller[1]}")
    return sorted(found)


def placeholder_values(params: StepParams) -> dict[str, str]:
    """Scalar params as runbook placeholder values (missing ones stay `<name>` when filled)."""
    written = params.model_dump(mode="json").items()
    return {k: str(v) for k, v in written if isinstance(v, str | int) and v != ""}
