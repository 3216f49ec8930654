"""What goes wrong during an upgrade, and what the engine does about it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from tests.execute.worlds import (
    CLUSTER,
    CountingControlPlane,
    Delegate,
    Runner,
    _app,
    add_bare_pod,
    blue_green,
    control_plane,
    full_plan,
    hand_plan,
    ready_workloads,
    step,
)
from upgrader.core.aws import Nodegroup
from upgrader.core.errors import NotFoundError, ServiceUnavailableError, ThrottledError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import NODEGROUP_LABEL, LabelSelector, PodDisruptionBudget, WorkloadKind
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.execute.reporter import PlainReporter
from upgrader.plan.document import StepKind
from upgrader.sandbox.eks.backend import eks_backend
from upgrader.sandbox.world import Sandbox

TAINT_KEY = "eksup.io/upgrade"


def _throttle(world: Sandbox, operation: str, times: int) -> list[int]:
    """Make EKS answer `operation` with ThrottlingException `times` times, at the HTTP layer,
    so the adapter's own retry meets it exactly as it would meet AWS."""
    seen = [0]

    def handler(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        seen[0] += 1
        if seen[0] > times:
            return None
        body = {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://eks.us-east-1.amazonaws.com", 400, {}, None), body

    world.aws.clients.eks.meta.events.register(f"before-call.eks.{operation}", handler)
    return seen


def test_aws_throttling_of_a_change_is_retried_once_not_repeated(
    world: Sandbox, runner: Runner
) -> None:
    seen = _throttle(world, "UpdateClusterVersion", times=2)
    plan = hand_plan([control_plane("1.29", "1.28")], target="1.29")

    result = runner.run(plan)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert seen[0] == 3
    assert len(world.aws.list_updates(CLUSTER)) == 1


def test_throttling_and_5xx_during_waits_are_read_again(world: Sandbox, runner: Runner) -> None:
    """A failed poll is "not yet", not a failed step (the adapter gave up on these already)."""
    counting = CountingControlPlane(world.aws)
    counting.fail_reads["describe_update"] = [
        ThrottledError("Rate exceeded", retry_after=20),
        ServiceUnavailableError("503 from eks"),
    ]
    flaky = _FlakyWhileCreating(counting, failures=3)
    plan = hand_plan(
        [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")],
        target="1.29",
    )

    result = runner.run(plan, ports=runner.ports(control_plane=flaky))

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    out = runner.out.getvalue()
    assert "last read failed, retrying: Rate exceeded" in out
    assert "last read failed, retrying: 502 from eks" in out
    assert flaky.failures == 0
    assert counting.calls["update_cluster_version"] == 1
    assert counting.calls["create_nodegroup"] == 1


class _FlakyWhileCreating(Delegate):
    """A 502 on the first reads of a node group that is still CREATING: only waits see it."""

    def __init__(self, inner: Any, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        group: Nodegroup = self.inner.describe_nodegroup(cluster, name)
        if group.status == "CREATING" and self.failures:
            self.failures -= 1
            raise ServiceUnavailableError("502 from eks")
        return group


def test_a_failed_control_plane_update_stops_with_its_errors(
    world: Sandbox, runner: Runner
) -> None:
    class FailTheUpdate(PlainReporter):
        def waiting(self, reason: str, waited: float, remaining: float) -> None:
            super().waiting(reason, waited, remaining)
            (update_id,) = world.aws.list_updates(CLUSTER)
            if world.aws.describe_update(CLUSTER, update_id).status.value == "InProgress":
                eks_backend(world.region).finish_update(
                    CLUSTER,
                    update_id,
                    "Failed",
                    [{"errorCode": "AccessDenied", "errorMessage": "role lost", "resourceIds": []}],
                )

    plan = hand_plan([control_plane("1.29", "1.28"), control_plane("1.30", "1.29")])

    result = runner.run(plan, reporter=FailTheUpdate(runner.out, world.clock))

    assert result.status is RunStatus.FAILED
    assert result.exit_code is ExitCode.FAILED
    assert result.resume_from == "control-plane-1.29"
    assert result.error is not None
    assert "ended Failed: AccessDenied: role lost" in result.error
    assert world.aws.describe_cluster(CLUSTER).version == "1.28"
    assert [s.outcome for s in result.steps] == [StepOutcome.FAILED, StepOutcome.NOT_RUN]


class _GreenFails(Delegate):
    """EKS says the green group failed to create (the sandbox cannot make that happen)."""

    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        group: Nodegroup = self.inner.describe_nodegroup(cluster, name)
        if name.endswith("-1-29") and group.status == "ACTIVE":
            return Nodegroup(
                **{
                    **group.__dict__,
                    "status": "CREATE_FAILED",
                    "health_issues": ("Ec2SubnetInvalidConfiguration: no free IPs",),
                }
            )
        return group


class _GreenNodesNeverJoin(Delegate):
    """The green group is ACTIVE but its nodes never register (a bad bootstrap, say)."""

    def list_nodes(self, label_selector: str | None = None) -> Any:
        nodes = self.inner.list_nodes(label_selector)
        return [n for n in nodes if not (n.nodegroup or "").endswith("-1-29")]


def _blue_is_untouched(world: Sandbox) -> None:
    kube = world.kube(CLUSTER)
    blue = kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general")
    assert blue
    assert not any(n.unschedulable for n in blue)
    assert not any(t.key == TAINT_KEY for n in blue for t in n.taints)
    assert kube.stats.evictions == 0


@pytest.mark.parametrize("fault", ["create-failed", "nodes-never-ready"])
def test_a_green_group_that_fails_is_rolled_back(
    world: Sandbox, runner: Runner, fault: str
) -> None:
    kube = world.kube(CLUSTER)
    # A previous attempt's taint on one blue node: the rollback removes what eksup put there.
    (first, *_) = kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general")
    from upgrader.plan.step_params import parse_taint

    kube.add_taint(first.name, parse_taint("eksup.io/upgrade=blue:NoSchedule"))
    kube.set_unschedulable(first.name, True)
    ports = runner.ports()
    if fault == "create-failed":
        ports = runner.ports(control_plane=_GreenFails(world.aws))
    else:
        ports = runner.ports(cluster=_GreenNodesNeverJoin(kube))
    plan = hand_plan(
        [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")],
        target="1.29",
    )

    result = runner.run(plan, ports=ports)

    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "rolled back" in result.error
    _blue_is_untouched(world)
    with pytest.raises(NotFoundError):
        world.aws.describe_nodegroup(CLUSTER, "general-1-29")
    assert world.aws.describe_nodegroup(CLUSTER, "general").status == "ACTIVE"
    assert kube.stats.lost_pods == ()


def test_a_pdb_at_zero_times_the_drain_out_naming_it_and_deletes_nothing(
    world: Sandbox, runner: Runner
) -> None:
    kube = world.kube(CLUSTER)
    kube.add_workload(_app(WorkloadKind.DEPLOYMENT, "shop", "frozen", 2), startup_seconds=5)
    kube.add_pdb(
        PodDisruptionBudget("shop", "frozen-pdb", LabelSelector({"app": "frozen"}), min_available=2)
    )
    world.settle(60)
    plan = hand_plan(
        [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")],
        target="1.29",
    )

    result = runner.run(plan, drain_timeout_seconds=300)

    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "drain timed out after 300s" in result.error
    assert "held by PDB shop/frozen-pdb (0 disruptions allowed)" in result.error
    assert "PDB shop/frozen-pdb holds 2" in runner.out.getvalue()  # said while waiting
    # Nothing deleted, blue left cordoned, green up: resumable either way.
    assert world.aws.describe_nodegroup(CLUSTER, "general").status == "ACTIVE"
    assert world.aws.describe_nodegroup(CLUSTER, "general-1-29").status == "ACTIVE"
    blue = kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general")
    assert all(n.unschedulable for n in blue)
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()


def test_a_bare_pod_is_refused_before_anything_changes(world: Sandbox, runner: Runner) -> None:
    add_bare_pod(world)
    world.settle(30)
    kube = world.kube(CLUSTER)
    kube.clear_actions()
    plan = full_plan()
    plan = plan.model_copy(update={"steps": [step(StepKind.PREFLIGHT, "preflight"), *plan.steps]})

    result = runner.run(plan)

    assert result.status is RunStatus.REFUSED
    assert result.exit_code is ExitCode.REFUSED
    assert result.error is not None
    assert "default/debug" in result.error
    assert "--force" in result.error
    assert world.aws.list_updates(CLUSTER) == []
    assert sorted(world.aws.list_nodegroups(CLUSTER)) == ["batch", "general"]
    changes = {a.resource for a in kube.actions if a.verb not in ("get", "list")}
    assert changes <= {"leases", "configmaps"}  # the lock and the journal, nothing else

    # Without a pre-flight step, the node group step refuses before creating green.
    counting = CountingControlPlane(world.aws)
    single = hand_plan([blue_green("general", "general-1-29", "1.29")], current="1.28")
    runner.journal_path.unlink()
    world.aws.update_cluster_version(CLUSTER, "1.29")
    world.settle(900)
    refused = runner.run(single, ports=runner.ports(control_plane=counting))
    assert refused.status is RunStatus.REFUSED
    assert counting.calls["create_nodegroup"] == 0


def test_with_force_the_bare_pod_is_evicted_and_the_run_succeeds(
    world: Sandbox, runner: Runner
) -> None:
    add_bare_pod(world)
    world.settle(30)
    before = ready_workloads(world)

    result = runner.run(full_plan(), force=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    kube = world.kube(CLUSTER)
    assert kube.stats.lost_pods == ()  # evicted on purpose, not lost with its node
    with pytest.raises(NotFoundError):
        kube.get_pod("default", "debug")
    assert ready_workloads(world) == before


@pytest.mark.parametrize(("selector", "refused"), [(None, True), ("run!=debug", False)])
def test_the_preflight_gate_judges_only_the_pods_the_drain_would_take(
    world: Sandbox, runner: Runner, selector: str | None, refused: bool
) -> None:
    # kubectl drain --pod-selector evicts only the selected pods, so it never refuses a bare pod
    # outside the selection; the gate must refuse exactly what the drain would (drainer.py).
    add_bare_pod(world)
    world.settle(30)
    plan = full_plan()
    plan = plan.model_copy(update={"steps": [step(StepKind.PREFLIGHT, "preflight"), *plan.steps]})

    result = runner.run(plan, dry_run=True, pod_selector=selector)

    blockers = " ".join([*result.blockers, result.error or ""])
    assert ("default/debug" in blockers) is refused, blockers
