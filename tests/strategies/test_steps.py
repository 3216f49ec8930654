"""Step generators: every strategy ends with all traffic on exactly one version, in limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from strategies.registry import steps_for
from strategies.spec import BlueGreen, Canary, Linear
from strategies.steps import ALL_CANDIDATE, Analysis, Pause, SetWeights, Step, split, weight_steps
from strategies.traffic.alb import ALB_MAX_WEIGHT, listener_of
from strategies.traffic.route53 import ROUTE53_MAX_WEIGHT

increasing_to_100 = st.sets(st.integers(1, 99), max_size=8).map(lambda s: (*sorted(s), 100))
canaries = st.one_of(
    st.builds(
        lambda steps, pause: Canary(kind="canary", steps=steps, pause_seconds=pause),
        increasing_to_100,
        st.floats(0, 3600),
    ),
    st.builds(
        lambda percent, every: Canary(
            kind="canary", linear=Linear(percent=percent, every_seconds=every)
        ),
        st.integers(1, 100),
        st.floats(0, 3600),
    ),
)
blue_greens = st.builds(
    lambda pause: BlueGreen(kind="blue-green", pause_seconds=pause), st.floats(0, 3600)
)


def _check(steps: list[Step]) -> None:
    assert steps
    assert steps[-1].weights == ALL_CANDIDATE  # exactly one version gets everything
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    for step in steps:
        w = step.weights
        assert w.stable + w.candidate == 100  # sums sensibly, never all zero
        for weight in (w.stable, w.candidate):
            assert 0 <= weight <= min(ALB_MAX_WEIGHT, ROUTE53_MAX_WEIGHT)
        assert step.pause_seconds >= 0
    candidate = [s.weights.candidate for s in steps]
    assert candidate == sorted(set(candidate))  # strictly more traffic at every step


@given(canaries)
def test_every_canary_ends_on_the_candidate_within_limits(strategy: Canary) -> None:
    _check(steps_for(strategy))


@given(blue_greens)
def test_blue_green_is_one_switch(strategy: BlueGreen) -> None:
    steps = steps_for(strategy)
    _check(steps)
    assert len(steps) == 1


def test_linear_ends_with_a_short_last_step() -> None:
    strategy = Canary(kind="canary", linear=Linear(percent=30, every_seconds=60))
    assert [s.weights.candidate for s in steps_for(strategy)] == [30, 60, 90, 100]
    assert {s.pause_seconds for s in steps_for(strategy)} == {60}


def test_listener_of_a_rule() -> None:
    prefix = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
    listener = f"{prefix}:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
    assert (
        listener_of(f"{prefix}:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2")
        == listener
    )
    assert listener_of(listener) == listener


def test_each_weight_change_carries_the_pause_after_it_and_none_without_one() -> None:
    thirty = split(30)
    steps = [
        Analysis(0, "step 0"),
        SetWeights(1, thirty),
        Pause(1, 60.0),
        SetWeights(2, ALL_CANDIDATE),
    ]
    assert weight_steps(steps) == [Step(1, thirty, 60.0), Step(2, ALL_CANDIDATE, 0.0)]
