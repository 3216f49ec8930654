"""A running rollout acts on the promote/abort requests other machines add to its journal (the
ConfigMap copy, merged on write), answers them, keeps its lock renewed while it waits, and
stops dead (no rollback) once the lock is lost."""

from __future__ import annotations

import pytest

from strategies.loop import StepLoop, build_runner
from strategies.run.journal import Actor, Request, RolloutJournal
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from strategies.steps import ALL_CANDIDATE, ALL_STABLE, Weights
from tests.strategies.world import NAMESPACE, Alb, alb_spec, put_alarm, replicas, route53_spec
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.errors import ConflictError, PermanentError
from upgrader.core.kube import WorkloadKind
from upgrader.core.run.lock import ClusterLock, LockLostError
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


def _runner(
    spec: RolloutSpec, aws: Boto3Aws, clock: VirtualClock, cluster: FakeCluster, **kw: object
) -> StepLoop:
    return build_runner(
        spec,
        load_balancers=aws,
        dns=aws,
        metrics=aws,
        clock=clock,
        cluster=cluster,
        journal=True,
        **kw,  # type: ignore[arg-type]
    )


def _journal(cluster: FakeCluster, clock: VirtualClock, who: str = "alice") -> RolloutJournal:
    """The journal as another machine opens it (its own run id)."""
    return RolloutJournal(cluster, clock, NAMESPACE, "web", run_id=f"q-{who}", who=who)


def _ask(cluster: FakeCluster, clock: VirtualClock, request: Request, who: str) -> None:
    """Another machine asks the running run (build_runner's run id) to promote or abort."""
    _journal(cluster, clock, who).request(request, Actor(who, clock.now()), "r-local")


def _live(aws: Boto3Aws, alb: Alb) -> tuple[int, int]:
    rule = next(r for r in aws.describe_forward_rules(alb.listener) if r.arn == alb.rule)
    found = {t.target_group_arn: t.weight for t in rule.targets}
    return found[alb.stable], found[alb.candidate]


def test_a_promote_request_skips_the_remaining_steps(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    journal = _journal(cluster, clock, "reader")
    # Step 2 (25%) bakes from t+60 to t+120: alice promotes at t+90.
    clock.call_later(90, lambda: _ask(cluster, clock, Request.PROMOTE, "alice"))

    report = _runner(alb_spec(alb), aws, clock, cluster).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert [(c.step, c.weights) for c in report.history] == [
        (0, ALL_STABLE),
        (1, Weights(95, 5)),
        (2, Weights(75, 25)),
        (4, ALL_CANDIDATE),
    ]
    assert report.history[-1].at - report.started_at == pytest.approx(90)
    assert "promoted by alice after step 1 of 4 had passed" in report.notes
    state = journal.read()
    assert state is not None
    assert state.phase.value == "succeeded"
    assert state.actions["promoted"].who == "alice"
    assert state.request is None
    assert state.stable_replicas == 3
    assert replicas(cluster, "web-stable") == 0


def test_an_abort_request_rolls_back_within_one_check(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    journal = _journal(cluster, clock, "reader")
    clock.call_later(125, lambda: _ask(cluster, clock, Request.ABORT, "bob"))

    report = _runner(alb_spec(alb), aws, clock, cluster).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.reason == "aborted by bob"
    assert report.steps_done == 2
    # Seen at the next check, 10 s at most after the request.
    assert report.history[-1].step == -1
    assert report.history[-1].at - report.started_at <= 125 + 10
    assert _live(aws, alb) == (100, 0)
    state = journal.read()
    assert state is not None
    assert (state.phase.value, state.actions["aborted"].who) == ("rolled-back", "bob")
    assert replicas(cluster, "web-candidate") == 0
    assert replicas(cluster, "web-stable") == 3


def test_an_abort_during_the_scale_down_delay_still_rolls_back(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    """All steps passed, stable waits out its 600 s delay: an abort now brings it back."""
    clock.call_later(4 * 60 + 100, lambda: _ask(cluster, clock, Request.ABORT, "bob"))

    report = _runner(alb_spec(alb, gates=[]), aws, clock, cluster).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert _live(aws, alb) == (100, 0)
    assert replicas(cluster, "web-stable") == 3


def test_the_lock_is_renewed_through_long_pauses(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    lock = ClusterLock(cluster, clock, "me", namespace=NAMESPACE, name="eksup-rollout-web")
    lock.acquire()

    report = _runner(alb_spec(alb, gates=[]), aws, clock, cluster, keepalive=lock.renew).run()

    assert report.status is RolloutStatus.SUCCEEDED
    lease = cluster.get_lease(NAMESPACE, "eksup-rollout-web")
    assert not lease.expired(clock.now())  # 840 s of waits, a 120 s lease
    assert clock.now() - lease.renewed_at <= 30


def test_a_lost_lock_stops_the_run_without_touching_traffic_again(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    lock = ClusterLock(cluster, clock, "me", namespace=NAMESPACE, name="eksup-rollout-web")
    lock.acquire()
    clock.call_later(90, lambda: cluster.delete_lease(NAMESPACE, "eksup-rollout-web"))

    with pytest.raises(LockLostError):
        _runner(alb_spec(alb, gates=[]), aws, clock, cluster, keepalive=lock.renew).run()

    assert _live(aws, alb) == (75, 25)  # step 2, left as it was: no rollback by a loser
    state = _journal(cluster, clock).read()
    assert state is not None
    assert (state.phase.value, state.step) == ("running", 1)


def test_route53_rollback_after_blue_green_is_one_upsert(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    cluster.scale_node_group("apps", 2)
    clock.sleep(120)
    spec = route53_spec(zone)
    assert _runner(spec, aws, clock, cluster).run().status is RolloutStatus.SUCCEEDED
    assert replicas(cluster, "web-stable") == 0

    report = _runner(spec, aws, clock, cluster).rollback(Actor("carol", clock.now()))

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.final_weights == ALL_STABLE
    assert [c.step for c in report.history] == [0, -1]
    live = {r.set_identifier: r.weight for r in aws.weighted_records(zone, "web.example.com", "A")}
    assert live == {"blue": 100, "green": 0}
    workload = cluster.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-stable")
    assert (workload.replicas, workload.ready_replicas) == (3, 3)
    # The candidate kept for the record's 60 s TTL after the switch back.
    (scaled,) = report.scaled_down
    assert scaled.deployment == "web-candidate"
    assert scaled.at - report.history[-1].at == pytest.approx(60)


def test_rollback_never_switches_to_a_stable_that_is_not_ready(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster
) -> None:
    """No nodes: stable's pods never start, so traffic stays on the candidate."""
    spec = route53_spec(zone, gates=[])
    assert _runner(spec, aws, clock, cluster).run().status is RolloutStatus.SUCCEEDED

    with pytest.raises(PermanentError, match="0/3 pods Ready"):
        _runner(spec, aws, clock, cluster).rollback(Actor("carol", clock.now()))

    live = {r.set_identifier: r.weight for r in aws.weighted_records(zone, "web.example.com", "A")}
    assert live == {"blue": 0, "green": 100}


def test_a_journal_write_retries_when_another_writer_got_in_between(
    cluster: FakeCluster, clock: VirtualClock
) -> None:
    """The run records a step while a promote request lands: neither loses its record. (The
    fake does not compare resourceVersions; the reactor plays the API server's 409 Conflict,
    tests/core/run/test_journal_merge.py the compare itself.)"""
    journal = RolloutJournal(cluster, clock, NAMESPACE, "web", run_id="r-local", who="me")
    journal.start(4, Actor("me", clock.now()))
    conflicts = [1]

    def conflict_once(action: Action) -> None:
        if action.verb == "patch" and conflicts:
            conflicts.pop()
            # Someone else writes first; our write, made from the older version, conflicts.
            cluster.remove_reactors()
            _ask(cluster, clock, Request.PROMOTE, "alice")
            raise ConflictError("the object has been modified")

    cluster.add_reactor("patch", "configmaps", conflict_once)
    journal.record(1, "running", Weights(95, 5), clock.now())

    state = journal.read()
    assert state is not None
    assert (state.step, state.request) == (1, Request.PROMOTE)
    assert state.requested_by is not None
    assert state.requested_by.who == "alice"
    assert [r.phase.value for r in _journal(cluster, clock).records] == [
        "run-started",
        "finished",
        "requested",
    ]
    # The run takes it and answers it; nothing is pending any more.
    (request,) = journal.pending()
    journal.answer(request, "promoted")
    assert journal.pending() == []
    after = _journal(cluster, clock).read()
    assert after is not None
    assert after.request is None


def test_requests_of_another_run_are_not_taken(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    """An abort asked of an earlier run (which ended before it read it) does not stop this one."""
    clock.call_later(
        30,
        lambda: _journal(cluster, clock, "bob").request(
            Request.ABORT, Actor("bob", clock.now()), "r-earlier"
        ),
    )
    report = _runner(alb_spec(alb, gates=[]), aws, clock, cluster).run()
    assert report.status is RolloutStatus.SUCCEEDED


def test_an_abort_wins_over_a_promote_asked_at_the_same_time(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    def both() -> None:
        _ask(cluster, clock, Request.PROMOTE, "alice")
        _ask(cluster, clock, Request.ABORT, "bob")

    clock.call_later(90, both)
    report = _runner(alb_spec(alb, gates=[]), aws, clock, cluster).run()
    assert (report.status, report.reason) == (RolloutStatus.ROLLED_BACK, "aborted by bob")
    records = _journal(cluster, clock).records
    assert [r.outcome for r in records if r.phase.value == "answered"] == ["aborted"]
