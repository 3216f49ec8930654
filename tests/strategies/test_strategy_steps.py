"""Each strategy, in its own module, turns a spec into typed steps over the router."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from strategies import ab, blue_green, canary, recreate, rolling, shadow
from strategies.registry import steps_of
from strategies.spec import AbTest, BlueGreen, Canary, Recreate, Rolling, Shadow
from strategies.steps import (
    ALL_CANDIDATE,
    Analysis,
    AwaitGone,
    AwaitReady,
    AwaitRoom,
    Pause,
    Retire,
    Scale,
    SetRoute,
    SetWeights,
    split,
)


def test_canary_shifts_then_bakes_then_gates_each_step_and_retires_stable() -> None:
    strategy = Canary(kind="canary", steps=(10, 100), pause_seconds=60)

    assert canary.steps(strategy) == [
        Analysis(0, "step 0"),
        SetWeights(1, split(10)),
        Pause(1, 60),
        Analysis(1, "step 1"),
        SetWeights(2, ALL_CANDIDATE),
        Pause(2, 60),
        Analysis(2, "step 2"),
        Retire(2, "stable", strategy.scale_down_delay_seconds),
    ]


def test_blue_green_brings_the_candidate_up_before_its_one_switch() -> None:
    strategy = BlueGreen(kind="blue-green", pause_seconds=30, scale_down_delay_seconds=90)

    assert blue_green.steps(strategy) == [
        Scale(0, "candidate", None),
        AwaitReady(0, "candidate", None),
        Analysis(0, "step 0"),
        SetWeights(1, ALL_CANDIDATE),
        Pause(1, 30),
        Analysis(1, "step 1"),
        Retire(1, "stable", 90),
    ]


@given(st.integers(1, 40), st.integers(0, 5), st.integers(0, 5))
def test_rolling_never_desires_more_than_the_surge_nor_plans_below_the_ready_bound(
    replicas: int, surge: int, unavailable: int
) -> None:
    if surge == unavailable == 0:
        surge = 1
    strategy = Rolling(kind="rolling", max_surge=surge, max_unavailable=unavailable)
    found = rolling.steps(strategy, replicas)
    desired = {"stable": replicas, "candidate": 0}
    max_surge, max_unavailable = rolling.rolling_bounds(replicas, strategy)
    for step in found:
        if isinstance(step, AwaitRoom):
            assert step.min_ready == max(replicas - max_unavailable, 0)
        if isinstance(step, Scale):
            assert step.replicas is not None
            desired[step.side] = step.replicas
            assert sum(desired.values()) <= replicas + max_surge
    assert desired == {"stable": 0, "candidate": replicas}
    assert isinstance(found[-1], Analysis)


def test_recreate_empties_stable_before_the_candidate_comes_up() -> None:
    assert recreate.steps(Recreate(kind="recreate"), 4) == [
        Scale(1, "stable", 0),
        AwaitGone(1, "stable"),
        Scale(2, "candidate", 4),
        AwaitReady(2, "candidate", 4),
        Pause(2, 0.0),
        Analysis(2, "batch 2"),
    ]


def test_ab_keeps_its_header_route_and_shadow_always_removes_its_mirror() -> None:
    test = AbTest(kind="ab", header="x-beta", values=("1",), pause_seconds=5)
    mirror = Shadow(kind="shadow", pause_seconds=5)

    assert [s for s in ab.steps(test) if isinstance(s, SetRoute)] == [SetRoute(1, "header", True)]
    assert [s for s in shadow.steps(mirror) if isinstance(s, SetRoute)] == [
        SetRoute(1, "mirror", True),
        SetRoute(2, "mirror", False),
    ]
    assert steps_of(test) == ab.steps(test)
    assert steps_of(mirror) == shadow.steps(mirror)
