"""Route 53 records at weight 0 and 0 are not "no traffic": Route 53 then answers with each
record equally ("If you set Weight to 0 for all of the records in the group, traffic is routed
to all resources with equal probability": Route 53 Developer Guide, "Values specific for
weighted records", Weight). A rollout from there is refused with --yes, confirmed otherwise,
and every command that shows the weights says what they mean."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from strategies.ports import RolloutPorts
from tests.strategies.world import NAMESPACE, RECORD
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.errors import RefusedError
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.usecases.rollout_status import read_status
from upgrader.usecases.rollouts import abort_rollout, run_rollout

EQUAL = "Route 53 answers with each record equally"


def _spec(tmp_path: Path, zone_id: str) -> Path:
    document = {
        "app": {
            "name": "web",
            "namespace": NAMESPACE,
            "stable": {"deployment": "web-stable"},
            "candidate": {"deployment": "web-candidate"},
        },
        "strategy": {"kind": "blue-green", "pause_seconds": 120},
        "traffic": {
            "provider": "route53",
            "zone_id": zone_id,
            "record_name": RECORD,
            "stable_set_identifier": "blue",
            "candidate_set_identifier": "green",
            "ttl_seconds": 60,
        },
    }
    path = tmp_path / "bg.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _zero(aws: Boto3Aws, zone_id: str) -> None:
    aws.clients.route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "A",
                        "SetIdentifier": "blue",
                        "Weight": 0,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.0.0.1"}],
                    },
                }
            ]
        },
    )


def test_zero_weights_are_refused_with_yes_and_explained_in_the_question(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster, tmp_path: Path
) -> None:
    _zero(aws, zone)
    spec = _spec(tmp_path, zone)
    ports = RolloutPorts(aws, aws, aws, clock, cluster)
    with pytest.raises(RefusedError, match=EQUAL):
        run_rollout(spec, ports, confirm=None, log=print)
    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(RefusedError, match="not confirmed"):
        run_rollout(spec, ports, confirm=decline, log=print)
    assert EQUAL in asked[0]
    weights = aws.weighted_records(zone, RECORD, "A")
    assert {r.weight for r in weights} == {0}  # nothing changed

    lines = read_status(spec, ports).lines()
    assert any(EQUAL in line for line in lines if line.startswith("live weights"))


def test_abort_from_zero_weights_says_what_it_was_and_puts_stable_on_all(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster, tmp_path: Path
) -> None:
    _zero(aws, zone)
    cluster.scale_node_group("apps", 2)
    clock.sleep(120)  # stable Ready: abort refuses to send traffic to nothing
    spec = _spec(tmp_path, zone)
    said: list[str] = []
    abort_rollout(spec, RolloutPorts(aws, aws, aws, clock, cluster), log=said.append)
    assert any(EQUAL in line for line in said)
    by_id = {r.set_identifier: r.weight for r in aws.weighted_records(zone, RECORD, "A")}
    assert by_id["green"] == 0
    assert by_id["blue"] > 0
