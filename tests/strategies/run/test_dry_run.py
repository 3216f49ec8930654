"""`rollout run --dry-run` on the routers whose change another system applies: the Load
Balancer Controller (alb-ingress) and Route 53 (INSYNC). The step loop runs on the dry-run
ports: each change is recorded as the API call it is, the router's own wait for the service
to apply it cannot be waited on and is not (`strategies.run.dry_run`), and nothing changes."""

from __future__ import annotations

from pathlib import Path

import yaml

from strategies.ports import RolloutPorts
from strategies.spec import RolloutSpec
from tests.strategies.k8s_world import IngressWorld, forward, ingress_spec, ingress_world
from tests.strategies.world import NAMESPACE, RECORD, Alb, Shared, put_alarm
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import WeightedRecord
from upgrader.core.run.dry_run import DRY_RUN_UPDATE_PREFIX, Recorder
from upgrader.core.run.status import RunStatus
from upgrader.execute.dry_run import DryRunDns
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.usecases.rollout_dry_run import dry_run_rollout

__all__ = ["ingress_world"]

READS = ("get", "list", "watch")


def _file(tmp_path: Path, spec: RolloutSpec | dict[str, object]) -> Path:
    path = tmp_path / "rollout.yaml"
    document = spec.model_dump(mode="json") if isinstance(spec, RolloutSpec) else spec
    path.write_text(yaml.safe_dump(document))
    return path


def test_an_ingress_canary_dry_run_records_each_annotation_and_waits_for_no_controller(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock, tmp_path: Path
) -> None:
    put_alarm(shared.aws, "web-5xx")
    spec = _file(tmp_path, ingress_spec(alb))
    ingress_world.kube.clear_actions()
    started = clock.now()

    result = dry_run_rollout(
        spec, RolloutPorts(shared.aws, shared.aws, shared.aws, clock, ingress_world.kube)
    )

    assert result.status is RunStatus.SUCCEEDED, result.lines()
    annotated = [c for c in result.calls if c.action == "annotate-ingress"]
    assert len(annotated) == 4  # 5, 25, 50, 100: one annotation each
    for call, weight in zip(annotated, (5, 25, 50, 100), strict=True):
        assert f'"serviceName":"web-candidate","servicePort":80,"weight":{weight}' in str(call)
    assert str(result.calls[-1]) == (
        f"kubernetes:scale workload=Deployment/{NAMESPACE}/web-stable replicas=0"
    )
    assert "a run would end: web: succeeded after 4/4 steps, stable 0 / candidate 100" in (
        result.lines()
    )
    # Nothing changed, nothing waited in real (virtual) time, the controller never ran.
    assert ingress_world.annotated_weights() == {"web-stable": 100, "web-candidate": 0}
    assert ingress_world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
    assert ingress_world.controller.reconciles == 0
    assert [a.verb for a in ingress_world.kube.actions if a.verb not in READS] == []
    assert clock.now() == started
    assert result.waited >= 4 * 60  # the four pauses the run would sit through
    assert (
        forward(100, 0)
        == ingress_world.kube.get_ingress(NAMESPACE, "web").annotations[
            "alb.ingress.kubernetes.io/actions.web-rollout"
        ]
    )


def test_a_route53_blue_green_dry_run_records_the_upsert_and_leaves_the_records(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster, tmp_path: Path
) -> None:
    spec = _file(
        tmp_path,
        {
            "app": {
                "name": "web",
                "namespace": NAMESPACE,
                "stable": {"deployment": "web-stable"},
                "candidate": {"deployment": "web-candidate"},
            },
            "strategy": {"kind": "blue-green", "pause_seconds": 120},
            "traffic": {
                "provider": "route53",
                "zone_id": zone,
                "record_name": RECORD,
                "stable_set_identifier": "blue",
                "candidate_set_identifier": "green",
                "ttl_seconds": 60,
            },
        },
    )
    before = aws.weighted_records(zone, RECORD, "A")

    result = dry_run_rollout(spec, RolloutPorts(aws, aws, aws, clock, cluster))

    assert result.status is RunStatus.SUCCEEDED, result.lines()
    upserts = [c for c in result.calls if c.service == "route53"]
    assert [str(c) for c in upserts] == [
        f"route53:ChangeResourceRecordSets zone={zone} "
        f"upsert={RECORD}/A/blue=0,{RECORD}/A/green=100"
    ]
    assert aws.weighted_records(zone, RECORD, "A") == before


def test_dry_run_dns_reads_its_upsert_back_and_answers_insync(aws: Boto3Aws, zone: str) -> None:
    recorder = Recorder()
    dns = DryRunDns(aws, recorder)

    change = dns.upsert_weighted_records(zone, [WeightedRecord(f"{RECORD}.", "A", "green", 40)])

    assert change.startswith(DRY_RUN_UPDATE_PREFIX)
    assert dns.change_status(change) == "INSYNC"
    weights = {r.set_identifier: r.weight for r in dns.weighted_records(zone, RECORD, "A")}
    assert weights == {"blue": 100, "green": 40}
    assert {r.set_identifier: r.weight for r in aws.weighted_records(zone, RECORD, "A")} == {
        "blue": 100,
        "green": 0,
    }
    assert len(recorder.calls) == 1
