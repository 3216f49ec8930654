"""The cloudwatch-metric gate on moto CloudWatch (put_metric_data, read with GetMetricData).

moto answers GetMetricData with one value per period that holds datapoints and none for empty
periods, as CloudWatch does, so an empty window really reaches the gate as "no datapoints".
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from strategies.gates.decide import GateTally
from strategies.gates.kinds import CloudWatchMetricGate, GateResult, Verdict
from strategies.run.outcome import AbortError, analyse
from strategies.spec import Gate, MetricGate
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.sandbox.clock import VirtualClock

_serial = itertools.count(1)


def _metric() -> str:
    # The moto world is shared by the module: every test reads its own metric.
    return f"Latency{next(_serial)}"


def _put(aws: Boto3Aws, metric: str, at: float, value: float) -> None:
    aws.clients.cloudwatch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "App", "Value": "web"}],
                "Timestamp": datetime.fromtimestamp(at, tz=UTC),
                "Value": value,
            }
        ],
    )


def _gate(metric: str, **fields: Any) -> MetricGate:
    document = {
        "kind": "cloudwatch-metric",
        "namespace": "Shop",
        "metric": metric,
        "dimensions": {"App": "web"},
        "stat": "Maximum",
        "threshold": 0.5,
        "window_seconds": 120,
        **fields,
    }
    gate = TypeAdapter(Gate).validate_python(document)
    assert isinstance(gate, MetricGate)
    return gate


def test_datapoints_under_the_threshold_pass(aws: Boto3Aws, clock: VirtualClock) -> None:
    metric = _metric()
    _put(aws, metric, clock.now() - 90, 0.2)
    _put(aws, metric, clock.now() - 30, 0.4)

    result = CloudWatchMetricGate(aws, clock, _gate(metric)).evaluate()

    assert result.verdict is Verdict.PASS, result.reason
    assert "2 datapoint(s)" in result.reason


def test_one_breaching_datapoint_fails_and_names_the_worst(
    aws: Boto3Aws, clock: VirtualClock
) -> None:
    metric = _metric()
    _put(aws, metric, clock.now() - 90, 0.9)
    _put(aws, metric, clock.now() - 30, 0.3)

    result = CloudWatchMetricGate(aws, clock, _gate(metric)).evaluate()

    assert result.verdict is Verdict.FAIL
    assert "1 of 2" in result.reason
    assert "worst 0.9" in result.reason
    assert result.culprits == (metric,)


def test_a_less_than_comparison_fails_on_a_low_value(aws: Boto3Aws, clock: VirtualClock) -> None:
    """A success rate that must stay at or above 99%."""
    metric = _metric()
    _put(aws, metric, clock.now() - 30, 97.5)
    spec = _gate(metric, stat="Minimum", threshold=99, comparison="LessThanThreshold")

    result = CloudWatchMetricGate(aws, clock, spec).evaluate()

    assert result.verdict is Verdict.FAIL
    assert "worst 97.5" in result.reason


def test_datapoints_outside_the_window_do_not_count(aws: Boto3Aws, clock: VirtualClock) -> None:
    metric = _metric()
    _put(aws, metric, clock.now() - 600, 9.0)  # long before the 120 s window

    result = CloudWatchMetricGate(aws, clock, _gate(metric, no_data="fail")).evaluate()

    assert result.verdict is Verdict.FAIL
    assert "no datapoints" in result.reason
    assert "(no_data: fail)" in result.reason


@pytest.mark.parametrize(
    ("policy", "verdict"),
    [("fail", Verdict.FAIL), ("pause", Verdict.PAUSE), ("pass", Verdict.PASS)],
)
def test_no_datapoints_follow_the_declared_policy(
    aws: Boto3Aws, clock: VirtualClock, policy: str, verdict: Verdict
) -> None:
    result = CloudWatchMetricGate(aws, clock, _gate(_metric(), no_data=policy)).evaluate()

    assert result.verdict is verdict
    assert f"(no_data: {policy})" in result.reason


def test_a_paused_gate_waits_for_data_then_passes(aws: Boto3Aws, clock: VirtualClock) -> None:
    metric = _metric()
    start = clock.now()
    clock.call_later(90, lambda: _put(aws, metric, start + 80, 0.1))
    gate = CloudWatchMetricGate(aws, clock, _gate(metric, no_data="pause", interval_seconds=30))
    results: list[GateResult] = []

    analyse([gate], clock, give_up=start + 600, label="batch 1", tally=GateTally(results, {}))

    # Checked at +0, +30, +60 (nothing yet) and +90 (the datapoint has arrived).
    assert [r.verdict for r in results] == [Verdict.PAUSE] * 3 + [Verdict.PASS]
    assert clock.now() - start == pytest.approx(90)


def test_a_paused_gate_without_data_aborts_at_the_deadline(
    aws: Boto3Aws, clock: VirtualClock
) -> None:
    gate = CloudWatchMetricGate(aws, clock, _gate(_metric(), no_data="pause"))

    with pytest.raises(AbortError, match="deadline passed waiting on cloudwatch-metric"):
        analyse([gate], clock, give_up=clock.now() + 100, label="batch 1", tally=GateTally([], {}))


def test_failures_below_the_limit_are_rechecked_until_the_window_clears(
    aws: Boto3Aws, clock: VirtualClock
) -> None:
    """A spike at t-30 stays in the 60 s window for two checks, 30 s apart; the third check
    sees only the good datapoint at t+45."""
    metric = _metric()
    start = clock.now()
    _put(aws, metric, start - 30, 5.0)
    _put(aws, metric, start + 45, 0.1)
    spec = _gate(metric, window_seconds=60, failure_limit=3, interval_seconds=30)
    results: list[GateResult] = []
    failures: dict[str, int] = {}

    analyse(
        [CloudWatchMetricGate(aws, clock, spec)],
        clock,
        give_up=start + 600,
        label="batch 1",
        tally=GateTally(results, failures),
    )

    assert [r.verdict for r in results] == [Verdict.FAIL, Verdict.FAIL, Verdict.PASS]
    assert failures == {f"cloudwatch-metric {metric} Maximum": 2}


def test_the_failure_limit_aborts(aws: Boto3Aws, clock: VirtualClock) -> None:
    metric = _metric()
    _put(aws, metric, clock.now() - 10, 5.0)
    spec = _gate(metric, window_seconds=600, failure_limit=2, interval_seconds=30)

    with pytest.raises(AbortError, match=r"failure 2 of 2"):
        analyse(
            [CloudWatchMetricGate(aws, clock, spec)],
            clock,
            give_up=clock.now() + 600,
            label="batch 1",
            tally=GateTally([], {}),
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stat": "p999"}, "stat"),
        ({"stat": "Median"}, "stat"),
        ({"period_seconds": 45}, "period_seconds must be"),
        ({"period_seconds": 300, "window_seconds": 60}, "at least one period"),
        ({"comparison": "Above"}, "comparison"),
    ],
)
def test_bad_metric_gates_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _gate("Latency", **fields)


def test_percentile_stats_are_accepted() -> None:
    assert _gate("Latency", stat="p99").stat == "p99"
    assert _gate("Latency", stat="p99.9").stat == "p99.9"
