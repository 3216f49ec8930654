"""What the example rollout specs (`examples/rollouts/`) need in the sandbox, with fixed ids.

`eksup rollout run examples/rollouts/canary-alb.yaml --sandbox` must work as written, yet moto
names an ALB, a target group, a listener rule or a hosted zone with random hex. So this module
builds them with moto's random generator seeded (and put back after): the same ids on every
run, independent of whatever the demo world created before. The demo cluster gets:

- the shop's ALB `shop` (listener :80, rule priority 10 forwarding to `web-stable` 100 and
  `web-candidate` 0), its target groups, and the alarm `shop-web-5xx`, as the demo's canary has;
- the candidate Deployment `shop/web-candidate` next to the stable `shop/web`;
- the hosted zone `example.com` with weighted records `web.example.com` `blue` (100, stable)
  and `green` (0, candidate);
- Services `shop/web` and `shop/web-candidate` (port 80), and the Ingress `shop/web` of the
  A/B example: path `/*` to action `web-ab` (forwarding to stable until eksup annotates it),
  then `/*` to action `web-weighted` (stable 100, candidate 0). The fake AWS Load Balancer
  Controller (`alb_controller`) builds its ALB `k8s-shop-web` (a rule per path, a target group
  per Service) and keeps reconciling the Ingress's annotations onto it;
- the HTTPRoute `shop/web` of the shadow example, attached to Gateway `shop/gateway`: every
  request to `web:80`. The FakeCluster plays the Gateway controller (it accepts each
  generation, and resolves refs only to Services that exist).

`python -m upgrader.sandbox.rollout_world` prints the ids the examples must carry; a test
checks that they still agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from moto.moto_api._internal import mock_random

from upgrader.core.kube import (
    ALB_ACTIONS_ANNOTATION_PREFIX,
    USE_ANNOTATION_PORT,
    BackendRef,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    IngressBackend,
    Service,
)
from upgrader.sandbox.alb_controller import FakeAlbController, ProvisionedAlb
from upgrader.sandbox.aws_world import weighted_zone
from upgrader.sandbox.demo_world import DEMO_CLUSTER, add_shop_candidate, build_demo_world
from upgrader.sandbox.weighted_alb import ALARM, shop_alb
from upgrader.sandbox.world import Sandbox

_SEED = 20261206  # any constant: it only has to stay the same
NAMESPACE = "shop"
INGRESS = "web"
AB_ACTION = "web-ab"
WEIGHTED_ACTION = "web-weighted"
STABLE_SERVICE = "web"
CANDIDATE_SERVICE = "web-candidate"


@dataclass(frozen=True)
class RolloutIds:
    rule_arn: str
    stable_target_group: str
    candidate_target_group: str
    zone_id: str
    ingress_rule_arn: str
    ingress_ab_rule_arn: str
    ingress_stable_target_group: str
    ingress_candidate_target_group: str
    alarm: str = ALARM


def build_rollout_world(world: Sandbox) -> RolloutIds:
    """Add the examples' resources to a world that already holds the demo cluster."""
    _services_ingress_and_route(world)
    saved = mock_random.getstate()
    mock_random.seed(_SEED)
    try:
        rule, stable, candidate = shop_alb(world)
        zone_id = _zone(world)
        ingress = _ingress_alb(world)
    finally:
        mock_random.setstate(saved)
    add_shop_candidate(world)
    return RolloutIds(
        rule,
        stable,
        candidate,
        zone_id,
        ingress_rule_arn=ingress.rules[WEIGHTED_ACTION],
        ingress_ab_rule_arn=ingress.rules[AB_ACTION],
        ingress_stable_target_group=ingress.target_groups[STABLE_SERVICE],
        ingress_candidate_target_group=ingress.target_groups[CANDIDATE_SERVICE],
    )


def _forward(*services: tuple[str, int]) -> str:
    groups = [{"serviceName": s, "servicePort": 80, "weight": w} for s, w in services]
    return json.dumps({"type": "forward", "forwardConfig": {"targetGroups": groups}})


def _services_ingress_and_route(world: Sandbox) -> None:
    kube = world.kube(DEMO_CLUSTER)
    # The demo's stable pods carry app=web only; the candidate's add track=candidate.
    kube.add_service(Service(NAMESPACE, STABLE_SERVICE, {"app": "web"}))
    kube.add_service(Service(NAMESPACE, CANDIDATE_SERVICE, {"app": "web", "track": "candidate"}))
    kube.add_ingress(
        Ingress(
            NAMESPACE,
            INGRESS,
            annotations={
                ALB_ACTIONS_ANNOTATION_PREFIX + AB_ACTION: _forward((STABLE_SERVICE, 1)),
                ALB_ACTIONS_ANNOTATION_PREFIX + WEIGHTED_ACTION: _forward(
                    (STABLE_SERVICE, 100), (CANDIDATE_SERVICE, 0)
                ),
            },
            ingress_class="alb",
            # The A/B path first: the LBC gives the paths priorities in this order.
            backends=(
                IngressBackend(AB_ACTION, USE_ANNOTATION_PORT, path="/*"),
                IngressBackend(WEIGHTED_ACTION, USE_ANNOTATION_PORT, path="/*"),
            ),
        )
    )
    kube.add_http_route(
        HTTPRoute(
            NAMESPACE,
            INGRESS,
            rules=(
                HTTPRouteRule(
                    backend_refs=(BackendRef(STABLE_SERVICE, 80),),
                    matches=({"path": {"type": "PathPrefix", "value": "/"}},),
                ),
            ),
        )
    )


def _ingress_alb(world: Sandbox) -> ProvisionedAlb:
    """The fake LBC, watching the demo cluster's Ingresses from now on, builds the ALB."""
    ec2: Any = world.boto3_client("ec2")
    subnets = list(world.aws.describe_cluster(DEMO_CLUSTER).subnet_ids)
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"]
    controller = FakeAlbController(world.kube(DEMO_CLUSTER), world.aws, world.clock)
    return controller.provision(NAMESPACE, INGRESS, subnets=subnets[:2], vpc=vpc)


def _zone(world: Sandbox) -> str:
    return weighted_zone(world.boto3_client("route53"), "eksup-examples")


def main() -> None:
    with Sandbox() as world:
        build_demo_world(world)
        ids = build_rollout_world(world)
    for field, value in vars(ids).items():
        print(f"{field}: {value}")


if __name__ == "__main__":
    main()
