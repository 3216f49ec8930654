"""A/B and shadow run on the one step loop like every strategy: journaled in the app's
journal (each completed step and the outcome), and a run killed mid-way resumes from it."""

from __future__ import annotations

from typing import Any

import pytest

from strategies.loop import StepLoop
from strategies.run.journal import Phase, RolloutJournal
from strategies.run.report import ExperimentReport, RolloutStatus
from strategies.traffic.factory import router_for
from tests.strategies.test_shadow import NS, Probe, gateway_cluster, spec
from upgrader.core.kube import RequestMirror
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

AB: dict[str, Any] = {"kind": "ab", "header": "x-beta", "values": ["1"], "pause_seconds": 60}
SHADOW: dict[str, Any] = {"kind": "shadow", "mirror_percent": 50, "pause_seconds": 120}


@pytest.fixture
def kube(clock: VirtualClock) -> FakeCluster:
    return gateway_cluster(clock)


def loop(strategy: dict[str, Any], kube: FakeCluster, clock: VirtualClock, probe: Any) -> StepLoop:
    the_spec = spec(strategy)
    router = router_for(the_spec, load_balancers=None, clock=clock, cluster=kube)  # type: ignore[arg-type]
    journal = RolloutJournal(kube, clock, NS, "web", run_id="q-reader")
    return StepLoop(
        the_spec, router=router, gates=[probe], clock=clock, cluster=kube, journal=journal
    )


@pytest.mark.parametrize("strategy", [AB, SHADOW], ids=["ab", "shadow"])
def test_the_outcome_of_an_ab_or_shadow_run_is_journaled(
    strategy: dict[str, Any], kube: FakeCluster, clock: VirtualClock
) -> None:
    report = loop(strategy, kube, clock, Probe(kube)).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    state = RolloutJournal(kube, clock, NS, "web", run_id="q-reader").read()
    assert state is not None
    assert state.phase is Phase.SUCCEEDED
    assert (state.step, state.steps_total) == ((1, 1) if strategy is AB else (2, 2))


def test_a_failed_gate_is_journaled_as_rolled_back(kube: FakeCluster, clock: VirtualClock) -> None:
    report = loop(SHADOW, kube, clock, Probe(kube, fail_from=2)).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    state = RolloutJournal(kube, clock, NS, "web", run_id="q-reader").read()
    assert state is not None
    assert state.phase is Phase.ROLLED_BACK
    assert state.reason == report.reason


class CtrlCAfter(Probe):
    """A person presses Ctrl-C while the gates after the bake are evaluated."""

    def evaluate(self) -> Any:
        result = super().evaluate()
        if len(self.seen) == 2:
            raise KeyboardInterrupt
        return result


def test_a_shadow_run_stopped_mid_way_resumes_and_still_removes_the_mirror(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    with pytest.raises(KeyboardInterrupt):
        loop(SHADOW, kube, clock, CtrlCAfter(kube)).run()
    paused = RolloutJournal(kube, clock, NS, "web", run_id="q-reader").read()
    assert paused is not None
    assert paused.phase is Phase.PAUSED
    assert kube.get_http_route(NS, "web").rules[0].mirrors  # left on by the stopped run

    report = loop(SHADOW, kube, clock, Probe(kube)).run()

    assert isinstance(report, ExperimentReport)
    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert not report.route_on
    mirrors: tuple[RequestMirror, ...] = kube.get_http_route(NS, "web").rules[0].mirrors
    assert mirrors == ()
    done = RolloutJournal(kube, clock, NS, "web", run_id="q-reader").read()
    assert done is not None
    assert done.phase is Phase.SUCCEEDED
