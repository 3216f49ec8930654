"""What the example rollout specs (`examples/rollouts/`) need in the sandbox, with fixed ids.

`eksup rollout run examples/rollouts/canary-alb.yaml --sandbox` must work as written, yet moto
names an ALB, a target group, a listener rule or a hosted zone with random hex. So this module
builds them with moto's random generator seeded (and put back after): the same ids on every
run, independent of whatever the demo world created before. The demo cluster gets:

- the shop's ALB `shop` (listener :80, rule priority 10 forwarding to `web-stable` 100 and
  `web-candidate` 0), its target groups, and the alarm `shop-web-5xx`, as the demo's canary has;
- the candidate Deployment `shop/web-candidate` next to the stable `shop/web`;
- the hosted zone `example.com` with weighted records `web.example.com` `blue` (100, stable)
  and `green` (0, candidate).

`python -m upgrader.sandbox.rollout_world` prints the ids the examples must carry; a test
checks that they still agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.moto_api._internal import mock_random

from upgrader.core.kube import (
    LabelSelector,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.demo_canary import ALARM, _alb
from upgrader.usecases.rollouts import RolloutPorts

_SEED = 20261206  # any constant: it only has to stay the same
ZONE_NAME = "example.com"
RECORD = "web.example.com"


@dataclass(frozen=True)
class RolloutIds:
    rule_arn: str
    stable_target_group: str
    candidate_target_group: str
    zone_id: str
    alarm: str = ALARM


def build_rollout_world(world: Sandbox) -> RolloutIds:
    """Add the examples' resources to a world that already holds the demo cluster."""
    saved = mock_random.getstate()
    mock_random.seed(_SEED)
    try:
        rule, stable, candidate = _alb(world)
        zone_id = _zone(world)
    finally:
        mock_random.setstate(saved)
    kube = world.kube(DEMO_CLUSTER)
    labels = {"app": "web", "track": "candidate"}
    kube.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "shop",
            "web-candidate",
            LabelSelector(labels),
            PodTemplate(labels=labels, spec=PodSpec(Resources(250, 256 * 2**20, 1))),
            replicas=3,
        ),
        startup_seconds=15,
    )
    world.settle(120)
    return RolloutIds(rule, stable, candidate, zone_id)


def _zone(world: Sandbox) -> str:
    route53: Any = world.boto3_client("route53")
    zone_id: str = route53.create_hosted_zone(Name=ZONE_NAME, CallerReference="eksup-examples")[
        "HostedZone"
    ]["Id"].split("/")[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "A",
                        "SetIdentifier": ident,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": address}],
                    },
                }
                for ident, weight, address in (("blue", 100, "10.0.0.1"), ("green", 0, "10.0.0.2"))
            ]
        },
    )
    return zone_id


@contextmanager
def sandbox_rollout_ports() -> Iterator[RolloutPorts]:
    """`eksup rollout ... --sandbox`: the demo cluster with the examples' resources, in this
    process and on virtual time (a new world per command: its state ends with it)."""
    with Sandbox() as world:
        build_demo_world(world)
        build_rollout_world(world)
        yield RolloutPorts(world.aws, world.aws, world.aws, world.clock, world.kube(DEMO_CLUSTER))


def main() -> None:
    with Sandbox() as world:
        build_demo_world(world)
        ids = build_rollout_world(world)
    for field, value in vars(ids).items():
        print(f"{field}: {value}")


if __name__ == "__main__":
    main()
