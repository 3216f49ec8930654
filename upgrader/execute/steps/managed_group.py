"""What the managed node group steps (blue/green and in place) share: the group's nodes, a describe
that tolerates a missing group, the pre-flight refusal check, and the launch template for a hop.
"""

from __future__ import annotations

from upgrader.core.aws import LaunchTemplateRef, Nodegroup
from upgrader.core.errors import NotFoundError, RefusedError
from upgrader.core.kube import NODEGROUP_LABEL, Node, Pod
from upgrader.drain.drainer import DrainRefusedError
from upgrader.drain.rules import DrainOptions, Verdict, decide_all
from upgrader.drain.schedule import PdbIndex
from upgrader.execute.steps.base import PreconditionError, StepContext
from upgrader.execute.steps.drain_settings import drain_refusals
from upgrader.plan.step_params import ManagedGroupParams

LAUNCH_TEMPLATE_VERSION = "launch_template_version"


def group_nodes(ctx: StepContext, group: str) -> list[Node]:
    return ctx.ports.cluster.list_nodes(label_selector=f"{NODEGROUP_LABEL}={group}")


def describe_or_none(ctx: StepContext, group: str) -> Nodegroup | None:
    try:
        return ctx.ports.control_plane.describe_nodegroup(ctx.cluster_name, group)
    except NotFoundError:
        return None


def preflight(ctx: StepContext, blue: str, options: DrainOptions) -> None:
    """Refuse now what the drain would refuse later, for every blue node at once."""
    names = [n.name for n in group_nodes(ctx, blue)]
    refused = drain_refusals(ctx, names)
    if refused:
        raise DrainRefusedError(refused)
    if ctx.options.disable_eviction:
        return  # pods are deleted, not evicted: the Eviction API's one-PDB rule does not apply
    index = PdbIndex(ctx.ports.cluster.list_pdbs())
    doubled = []
    for name in names:
        for pod in evictable(ctx.ports.cluster.list_pods(node_name=name), options):
            pdbs = index.covering(pod)
            if len(pdbs) > 1:
                doubled.append(f"{pod.key} ({', '.join(pdbs)})")
    if doubled:
        raise RefusedError(
            "the Eviction API refuses pods covered by more than one PodDisruptionBudget, and "
            f"these are on {blue}: {'; '.join(doubled[:5])}; merge or narrow those PDBs"
        )


def evictable(pods: list[Pod], options: DrainOptions) -> list[Pod]:
    return [
        d.pod
        for d in decide_all(pods, options)
        if d.verdict is Verdict.EVICT and not d.pod.is_finished and not d.pod.is_terminating
    ]


def template_for_hop(
    ctx: StepContext, template: LaunchTemplateRef, group: str, version: str, ami: ManagedGroupParams
) -> tuple[LaunchTemplateRef, bool]:
    """A group's launch template for `version`, and whether it names the AMI itself. With a
    custom AMI in it, a new template version with the hop's AMI (created once: its number is
    remembered)."""
    compute = ctx.ports.compute
    current = compute.describe_launch_template_version(template.id, template.version or "$Default")
    if not current.image_id:
        return template, False
    remembered = ctx.recall(LAUNCH_TEMPLATE_VERSION)
    if remembered is not None:
        return LaunchTemplateRef(template.id, template.name, remembered), True
    image = ami.ami_id
    if image is None and ami.ami_parameter:
        image = compute.get_parameter(ami.ami_parameter)
    if image is None:
        raise PreconditionError(
            f"node group {group} runs a custom AMI from launch template {template.id}, and the "
            f"plan names no AMI for {version}; re-plan"
        )
    ctx.intend(
        f"ec2:CreateLaunchTemplateVersion template={template.id} "
        f"source={current.version} image={image}"
    )
    created = compute.create_launch_template_version(template.id, current.version, image)
    ctx.remember(LAUNCH_TEMPLATE_VERSION, created.version)
    return LaunchTemplateRef(template.id, template.name, created.version), True
