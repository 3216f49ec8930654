"""Moving Fargate pods to the new version: a rolling restart of each workload that owns them.

A Fargate pod runs on a micro-VM at the version the control plane had when the pod started,
so a restart is the whole upgrade. Each workload the plan lists is restarted
(`kubectl rollout restart`) and waited on, one after another, so at most one workload is
rolling at a time. A restart is remembered in the journal once made: a resumed run restarts
only the workloads not restarted yet (a crash between the call and its record restarts one
workload twice, which is harmless), and waits again for any that are not Ready.
"""

from __future__ import annotations

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import Workload, WorkloadKind
from upgrader.execute.steps.base import StepContext, StepResult
from upgrader.plan.step_params import FargateParams

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"  # what `rollout restart` sets


def _key(kind: WorkloadKind, namespace: str, name: str) -> str:
    return f"restarted/{kind.value}/{namespace}/{name}"


def _rolled_out(ctx: StepContext, workload: Workload) -> bool:
    """Every pod of the workload runs the restarted template (no old or terminating pod is
    left) and as many are Ready as it wants. A Deployment's Ready count alone would also
    count the old ReplicaSet's pods."""
    if workload.observed_generation < workload.generation:
        return False
    stamp = workload.template.annotations.get(RESTARTED_AT_ANNOTATION)
    pods = [
        pod
        for pod in ctx.ports.cluster.list_pods(namespace=workload.namespace)
        if workload.selector.matches(pod.labels) and not pod.is_finished
    ]
    if any(
        pod.is_terminating or pod.annotations.get(RESTARTED_AT_ANNOTATION) != stamp for pod in pods
    ):
        return False
    return sum(1 for pod in pods if pod.ready) >= (workload.replicas or 0)


def run_fargate(ctx: StepContext) -> StepResult:
    p = ctx.step.params_of(FargateParams)
    cluster = ctx.ports.cluster
    restarted, gone = [], []
    for kind, namespace, name in p.restarts():
        what = f"{kind.value} {namespace}/{name}"
        if ctx.recall(_key(kind, namespace, name)) is None:
            try:
                cluster.get_workload(kind, namespace, name)
            except NotFoundError:
                gone.append(what)
                continue
            ctx.intend(f"rollout restart {what} (its pods move to Fargate at {p.version})")
            cluster.restart_workload(kind, namespace, name)
            if not ctx.dry_run:
                ctx.remember(_key(kind, namespace, name), "true")
            restarted.append(what)
        _wait_ready(ctx, kind, namespace, name)
    if not restarted and not gone and p.workloads:
        return StepResult(f"{len(p.workloads)} Fargate workloads restarted earlier")
    detail = f"restarted {len(restarted)} Fargate workloads"
    if gone:
        detail += f"; gone since the plan: {', '.join(gone)}"
    return StepResult(detail, already_done=not p.workloads)


def _wait_ready(ctx: StepContext, kind: WorkloadKind, namespace: str, name: str) -> None:
    seen: list[Workload] = []

    def ready() -> bool:
        try:
            workload = ctx.ports.cluster.get_workload(kind, namespace, name)
        except NotFoundError:
            return True  # deleted meanwhile: nothing to wait for
        seen.append(workload)
        return _rolled_out(ctx, workload)

    def reason() -> str:
        if not seen:
            return f"{kind.value} {namespace}/{name} Ready after its restart"
        w = seen[-1]
        return (
            f"{kind.value} {namespace}/{name} Ready after its restart: "
            f"{w.ready_replicas}/{w.replicas}"
        )

    ctx.waiter.until(ready, reason=reason, timeout=ctx.options.timeouts.workloads_ready, poll=5.0)
