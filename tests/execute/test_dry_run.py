"""--dry-run: every read and check, every change listed, nothing changed."""

from __future__ import annotations

import re

from tests.execute.worlds import CLUSTER, Runner, add_bare_pod, full_plan
from upgrader.core.errors import NotFoundError, PermissionDeniedError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import Lease
from upgrader.core.run.journal import mirror_name
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.world import Sandbox


def _aws_state(world: Sandbox) -> object:
    aws = world.aws
    groups = {n: aws.describe_nodegroup(CLUSTER, n) for n in aws.list_nodegroups(CLUSTER)}
    addons = {n: aws.describe_addon(CLUSTER, n) for n in aws.list_addons(CLUSTER)}
    return aws.describe_cluster(CLUSTER), groups, addons, aws.list_updates(CLUSTER)


def _writes(world: Sandbox) -> list[object]:
    return [a for a in world.kube(CLUSTER).actions if a.verb not in ("get", "list")]


def test_a_dry_run_changes_nothing_and_lists_every_change(world: Sandbox, runner: Runner) -> None:
    before = _aws_state(world)
    kube = world.kube(CLUSTER)
    kube.clear_actions()
    started = world.clock.now()

    result = runner.run(full_plan(), dry_run=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert result.exit_code is ExitCode.OK
    assert _aws_state(world) == before
    assert _writes(world) == []
    assert world.clock.now() == started  # not one wait was waited
    assert not runner.journal_path.exists()
    try:
        kube.get_config_map("kube-system", mirror_name(CLUSTER))
        raise AssertionError("a dry run wrote the journal's ConfigMap")
    except NotFoundError:
        pass
    calls = [str(c) for c in result.intended_calls]
    assert "eks:UpdateClusterVersion cluster=prod version=1.29" in calls
    assert "eks:UpdateClusterVersion cluster=prod version=1.30" in calls
    # The second hop is planned against the world the first would leave.
    creates = [c for c in calls if c.startswith("eks:CreateNodegroup")]
    assert [c.split()[2] for c in creates] == [
        "nodegroup=batch-1-29",
        "nodegroup=general-1-29",
        "nodegroup=batch-1-30",
        "nodegroup=general-1-30",
    ]
    assert "eks:DeleteNodegroup cluster=prod nodegroup=general-1-29" in calls
    assert sum(c.startswith("kubernetes:cordon") for c in calls) == 5  # the real blue nodes
    assert "kubernetes:scale workload=Deployment/kube-system/cluster-autoscaler replicas=0" in calls
    out = runner.out.getvalue()
    assert "would call eks:UpdateClusterVersion cluster=prod version=1.29" in out
    assert "would drain 3 nodes of general: evict 16 pods" in out  # with CA, not scaled down
    # Hop 2 drains groups only hop 1 would have made: counted from the would-be state, not 0.
    assert re.search(
        r"would drain 3 nodes of general-1-29: evict \d+ pods \(counted from general now", out
    )
    assert "would drain 0 nodes" not in out
    assert (
        "would call kubernetes:scale workload=Deployment/kube-system/cluster-autoscaler "
        "replicas=1" in out
    )  # the restore step sees the paused count
    assert "would wait up to" in out


def test_a_dry_run_says_the_real_run_would_be_blocked(world: Sandbox, runner: Runner) -> None:
    add_bare_pod(world)
    world.settle(30)
    before = _aws_state(world)
    world.kube(CLUSTER).clear_actions()

    result = runner.run(full_plan(), dry_run=True)

    assert result.status is RunStatus.WOULD_BLOCK
    assert result.exit_code is ExitCode.BLOCKED
    (blocker, *_) = result.blockers
    assert blocker.startswith("nodegroup-")
    assert "default/debug" in blocker
    assert "--force" in blocker
    assert _aws_state(world) == before
    assert _writes(world) == []


def test_a_dry_run_reports_a_held_lock_without_taking_it(world: Sandbox, runner: Runner) -> None:
    kube = world.kube(CLUSTER)
    now = world.clock.now()
    kube.create_lease(Lease(LOCK_NAMESPACE, LOCK_NAME, "bob@ci", now, now, 120))

    result = runner.run(full_plan(), dry_run=True)

    assert result.status is RunStatus.WOULD_BLOCK
    assert any("bob@ci" in b for b in result.blockers)
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder == "bob@ci"


class ServerDryRun:
    """An API server asked with dryRun=All: checks each write and keeps none. It refuses the
    writes named in `refuse` (as RBAC or a webhook would) and says 404 for `missing` nodes."""

    def __init__(self, refuse: tuple[str, ...] = (), missing: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.missing = missing
        self.seen: list[str] = []

    def __getattr__(self, method: str) -> object:
        def write(*args: object, **_: object) -> None:
            self.seen.append(method)
            if args and args[0] in self.missing:
                raise NotFoundError(f"nodes {args[0]} not found")
            if method in self.refuse:
                raise PermissionDeniedError(
                    f'not allowed to patch nodes {args[0]}: nodes "{args[0]}" is forbidden: '
                    'User "ci" cannot patch resource "nodes"',
                    action="patch nodes",
                )

        return write


def test_a_dry_run_sends_each_change_to_the_servers_dry_run(world: Sandbox, runner: Runner) -> None:
    server = ServerDryRun()
    kube = world.kube(CLUSTER)
    kube.clear_actions()

    result = runner.run(full_plan(), dry_run=True, ports=runner.ports(server_dry_run=server))

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert {"add_taint", "set_unschedulable", "scale_workload"} <= set(server.seen)
    assert _writes(world) == []  # the real cluster kept nothing


def test_a_write_the_api_server_refuses_makes_the_dry_run_say_blocked(
    world: Sandbox, runner: Runner
) -> None:
    server = ServerDryRun(refuse=("add_taint",))
    kube = world.kube(CLUSTER)
    kube.clear_actions()

    result = runner.run(full_plan(), dry_run=True, ports=runner.ports(server_dry_run=server))

    assert result.status is RunStatus.WOULD_BLOCK
    assert result.exit_code is ExitCode.BLOCKED
    (blocker, *_) = result.blockers
    assert "the API server would refuse taint" in blocker
    assert 'cannot patch resource "nodes"' in blocker
    assert _writes(world) == []


def test_objects_only_the_dry_run_knows_get_no_verdict(world: Sandbox, runner: Runner) -> None:
    names = tuple(n.name for n in world.kube(CLUSTER).list_nodes())
    server = ServerDryRun(refuse=("add_taint",), missing=names)

    result = runner.run(full_plan(), dry_run=True, ports=runner.ports(server_dry_run=server))

    assert result.status is RunStatus.SUCCEEDED, result.summary()
