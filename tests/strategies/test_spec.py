"""The rollout spec: a bad field is named with its file and line; impossible pairs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from strategies.gates.kinds import gates_for
from strategies.spec import AlbTraffic, Canary, NoData, load_spec
from strategies.traffic.factory import provider_for
from upgrader.core.errors import UserError
from upgrader.sandbox.clock import VirtualClock

RULE = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c/f2f7dc/9683b2"
)
STABLE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/73e2d6bc24d8a067"
CANDIDATE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/8e3f1a"

GOOD = f"""\
app:
  name: web
  namespace: shop
  candidate:
    deployment: web-v2
strategy:
  kind: canary
  steps: [5, 25, 50, 100]
  pause_seconds: 120
traffic:
  provider: alb-elbv2
  rule_arn: {RULE}
  stable_target_group: {STABLE}
  candidate_target_group: {CANDIDATE}
gates:
  - kind: cloudwatch-alarm
    alarms: [web-5xx, web-p99]
    no_data: pause
  - kind: alb-target-health
    failure_limit: 2
deadlines:
  total_seconds: 3600
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))

    assert isinstance(spec.strategy, Canary)
    assert spec.strategy.steps == (5, 25, 50, 100)
    assert isinstance(spec.traffic, AlbTraffic)
    assert spec.gates[0].no_data is NoData.PAUSE
    assert spec.gates[1].failure_limit == 2
    assert spec.gates[1].no_data is NoData.FAIL  # the default: silence is not health
    assert spec.deadlines.total_seconds == 3600
    assert spec.deadlines.step_seconds == 1800


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("    no_data: pause", "    no_data: maybe", ":18: gates.0.no_data: "),
        ("  pause_seconds: 120", "  pause_secs: 120", ":9: strategy.pause_secs: Extra inputs"),
        (
            "  steps: [5, 25, 50, 100]",
            "  steps: [5, 50, 25, 100]",
            ":8: strategy.steps: Value error, steps must increase",
        ),
        ("  steps: [5, 25, 50, 100]", "  steps: [5, 25, 500, 100]", ":8: strategy.steps.2: "),
        ("  provider: alb-elbv2", "  provider: nginx", ":11: traffic: Input tag 'nginx'"),
        ("  rule_arn: ", "  rule_arn: x", ":12: traffic.rule_arn: "),
        ("    failure_limit: 2", "    failure_limit: 0", ":20: gates.1.failure_limit: "),
        ("  total_seconds: 3600", "  total_seconds: -1", ":22: deadlines.total_seconds: "),
    ],
)
def test_a_bad_field_is_named_with_file_and_line(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    path = _write(tmp_path, text)

    with pytest.raises(UserError) as error:
        load_spec(path)

    assert str(error.value).startswith(f"{path}{where}"), str(error.value)


def test_steps_must_end_at_100(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="the last step must be 100"):
        load_spec(_write(tmp_path, GOOD.replace("[5, 25, 50, 100]", "[5, 25, 50]")))


def test_steps_or_linear_not_both(tmp_path: Path) -> None:
    text = GOOD.replace("  pause_seconds: 120", "  linear: {percent: 10, every_seconds: 60}")
    with pytest.raises(UserError, match="either steps or linear"):
        load_spec(_write(tmp_path, text))


def test_target_health_on_route53_needs_a_group(tmp_path: Path) -> None:
    text = GOOD.split("traffic:", maxsplit=1)[0] + (
        "traffic:\n  provider: route53\n  zone_id: Z1\n  record_name: web.example.com\n"
        "  stable_set_identifier: blue\n  candidate_set_identifier: green\n"
        "gates:\n  - kind: alb-target-health\n"
    )
    with pytest.raises(UserError, match="needs alb-elbv2 or alb-ingress traffic"):
        load_spec(_write(tmp_path, text))


def test_target_health_through_the_ingress_defaults_to_the_candidate_group(
    tmp_path: Path,
) -> None:
    text = GOOD.split("traffic:", maxsplit=1)[0] + (
        "traffic:\n  provider: alb-ingress\n  ingress: web\n  action: web-split\n"
        "  stable_service: web-v1\n  candidate_service: web-v2\n"
        f"  rule_arn: {RULE}\n  stable_target_group: {STABLE}\n"
        f"  candidate_target_group: {CANDIDATE}\n"
        "gates:\n  - kind: alb-target-health\n"
    )
    spec = load_spec(_write(tmp_path, text))
    (gate,) = gates_for(spec, metrics=None, load_balancers=None)  # type: ignore[arg-type]
    assert gate.name == "alb-target-health targetgroup/web-green/8e3f1a"


@pytest.mark.parametrize(
    ("strategy", "traffic", "message"),
    [
        (
            "{kind: shadow}",
            "alb",
            "ALB cannot mirror traffic; use a Gateway API HTTPRoute with a RequestMirror filter",
        ),
        ("{kind: shadow}", "route53", "Route 53 answers each DNS query with one record"),
        ("{kind: ab, header: x-beta, values: ['1']}", "route53", "never sees HTTP headers"),
        # A/B on an ALB works, through strategies.run.routes: it moves no weights.
        (
            "{kind: ab, header: x-beta, values: ['1']}",
            "alb",
            "routes or mirrors requests rather than moving weights",
        ),
    ],
)
def test_impossible_pairs_are_refused_with_a_reason(
    tmp_path: Path, strategy: str, traffic: str, message: str
) -> None:
    text = GOOD.replace(
        "strategy:\n  kind: canary\n  steps: [5, 25, 50, 100]\n  pause_seconds: 120\n",
        f"strategy: {strategy}\n",
    )
    if traffic == "route53":
        text = text.split("traffic:")[0] + (
            "traffic:\n  provider: route53\n  zone_id: Z1\n  record_name: web.example.com\n"
            "  stable_set_identifier: blue\n  candidate_set_identifier: green\n"
        )
    spec = load_spec(_write(tmp_path, text))

    with pytest.raises(UserError, match=message):
        provider_for(spec, load_balancers=None, dns=None, clock=VirtualClock())  # type: ignore[arg-type]
