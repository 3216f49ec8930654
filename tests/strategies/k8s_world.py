"""Kubernetes-side worlds for the alb-ingress and service providers, on top of `world.py`.

The alb-ingress world is the ALB of `world.alb` as the AWS Load Balancer Controller would own
it: an Ingress whose rule points at the `web-rollout` action, one Service per side, and a fake
controller that copies the annotation's weights onto the rule 5 s (virtual) after each change.
The A/B variant adds the second path an A/B chart carries: action `web-ab`, listed first, whose
rule (priority 5, the same path) forwards to stable until eksup annotates it.
The service world is a node with room, both Deployments behind one Service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from strategies.spec import RolloutSpec
from tests.strategies.world import NAMESPACE, Alb, Shared
from upgrader.core.kube import (
    ALB_ACTIONS_ANNOTATION_PREFIX,
    ALB_CONDITIONS_ANNOTATION_PREFIX,
    USE_ANNOTATION_PORT,
    Ingress,
    IngressBackend,
    LabelSelector,
    Node,
    PodTemplate,
    Resources,
    Service,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.alb_controller import FakeAlbController
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

INGRESS = "web"
ACTION = "web-rollout"
ANNOTATION = ALB_ACTIONS_ANNOTATION_PREFIX + ACTION
SERVICE = "web"


def forward(stable: int, candidate: int) -> str:
    return json.dumps(
        {
            "type": "forward",
            "forwardConfig": {
                "targetGroups": [
                    {"serviceName": "web-stable", "servicePort": 80, "weight": stable},
                    {"serviceName": "web-candidate", "servicePort": 80, "weight": candidate},
                ]
            },
        }
    )


@dataclass
class IngressWorld:
    alb: Alb
    kube: FakeCluster
    controller: FakeAlbController

    def annotation(self) -> dict[str, Any]:
        ingress = self.kube.get_ingress(NAMESPACE, INGRESS)
        parsed: dict[str, Any] = json.loads(ingress.annotations[ANNOTATION])
        return parsed

    def annotated_weights(self) -> dict[str, int]:
        groups = self.annotation()["forwardConfig"]["targetGroups"]
        return {g["serviceName"]: g["weight"] for g in groups}

    def alb_weights(self, shared: Shared) -> dict[str, int]:
        rule = next(
            r
            for r in shared.aws.describe_forward_rules(self.alb.listener)
            if r.arn == self.alb.rule
        )
        return {t.target_group_arn: t.weight for t in rule.targets}


@pytest.fixture
def ingress_world(
    shared: Shared, alb: Alb, cluster: FakeCluster, clock: VirtualClock
) -> IngressWorld:
    cluster.add_ingress(
        Ingress(
            namespace=NAMESPACE,
            name=INGRESS,
            annotations={ANNOTATION: forward(100, 0)},
            ingress_class="alb",
            backends=(IngressBackend(ACTION, USE_ANNOTATION_PORT, path="/*"),),
        )
    )
    for side in ("stable", "candidate"):
        cluster.add_service(Service(NAMESPACE, f"web-{side}", {"app": f"web-{side}"}))
    controller = FakeAlbController(cluster, shared.aws, clock)
    controller.bind_service(NAMESPACE, "web-stable", 80, alb.stable)
    controller.bind_service(NAMESPACE, "web-candidate", 80, alb.candidate)
    controller.bind_action(NAMESPACE, INGRESS, ACTION, alb.rule)
    return IngressWorld(alb, cluster, controller)


def ingress_spec(alb: Alb, **overrides: Any) -> RolloutSpec:
    """A canary 5/25/50/100 with 60 s pauses through the Ingress, alarm `web-5xx` as gate."""
    document: dict[str, Any] = {
        "app": {
            "name": "web",
            "namespace": NAMESPACE,
            "stable": {"deployment": "web-stable"},
            "candidate": {"deployment": "web-candidate"},
        },
        "strategy": {"kind": "canary", "steps": [5, 25, 50, 100], "pause_seconds": 60},
        "traffic": {
            "provider": "alb-ingress",
            "ingress": INGRESS,
            "action": ACTION,
            "stable_service": "web-stable",
            "candidate_service": "web-candidate",
            "service_port": 80,
            "rule_arn": alb.rule,
            "stable_target_group": alb.stable,
            "candidate_target_group": alb.candidate,
        },
        "gates": [{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"]}],
    }
    document.update(overrides)
    return RolloutSpec.model_validate(document)


# A/B through the Ingress ------------------------------------------------------------------------

AB_ACTION = "web-ab"
AB_ACTIONS = ALB_ACTIONS_ANNOTATION_PREFIX + AB_ACTION
AB_CONDITIONS = ALB_CONDITIONS_ANNOTATION_PREFIX + AB_ACTION
COOKIE_AB = {"kind": "ab", "header": "Cookie", "values": ["*variant=b*"], "pause_seconds": 60}


def forward_one(service: str) -> str:
    return json.dumps(
        {
            "type": "forward",
            "forwardConfig": {"targetGroups": [{"serviceName": service, "servicePort": 80}]},
        }
    )


@dataclass
class AbIngressWorld(IngressWorld):
    ab_rule: str

    def ab_rule_now(self, shared: Shared) -> dict[str, Any]:
        """The A/B path's rule as ELBv2 describes it."""
        rules = shared.aws.clients.elbv2.describe_rules(RuleArns=[self.ab_rule])["Rules"]
        return dict(rules[0])

    def ab_annotations(self) -> dict[str, str]:
        ingress = self.kube.get_ingress(NAMESPACE, INGRESS)
        return {k: v for k, v in ingress.annotations.items() if AB_ACTION in k}


def ab_path_rule(shared: Shared, alb: Alb, priority: int = 5, path: str = "/*") -> str:
    """The rule the LBC made for the A/B path: the main one's path, forwarding to stable."""
    arn: str = shared.aws.clients.elbv2.create_rule(
        ListenerArn=alb.listener,
        Priority=priority,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": alb.stable}],
    )["Rules"][0]["RuleArn"]
    return arn


def make_ab_ingress_world(
    shared: Shared, alb: Alb, cluster: FakeCluster, clock: VirtualClock, *, ab_path: bool = True
) -> AbIngressWorld:
    """The Ingress of `ingress_world` with the A/B path first (unless `ab_path` is False: a
    chart that forgot it); both rules bound."""
    ab_rule = ab_path_rule(shared, alb)
    main = IngressBackend(ACTION, USE_ANNOTATION_PORT, path="/*")
    cluster.add_ingress(
        Ingress(
            namespace=NAMESPACE,
            name=INGRESS,
            annotations={ANNOTATION: forward(100, 0), AB_ACTIONS: forward_one("web-stable")},
            ingress_class="alb",
            backends=(
                (IngressBackend(AB_ACTION, USE_ANNOTATION_PORT, path="/*"), main)
                if ab_path
                else (main,)
            ),
        )
    )
    for side_name in ("stable", "candidate"):
        cluster.add_service(Service(NAMESPACE, f"web-{side_name}", {"app": f"web-{side_name}"}))
    controller = FakeAlbController(cluster, shared.aws, clock)
    controller.bind_service(NAMESPACE, "web-stable", 80, alb.stable)
    controller.bind_service(NAMESPACE, "web-candidate", 80, alb.candidate)
    controller.bind_action(NAMESPACE, INGRESS, ACTION, alb.rule)
    controller.bind_action(NAMESPACE, INGRESS, AB_ACTION, ab_rule)
    return AbIngressWorld(alb, cluster, controller, ab_rule)


@pytest.fixture
def ab_ingress_world(
    shared: Shared, alb: Alb, cluster: FakeCluster, clock: VirtualClock
) -> AbIngressWorld:
    return make_ab_ingress_world(shared, alb, cluster, clock)


def ab_ingress_spec(alb: Alb, ab_rule: str | None, **traffic: Any) -> RolloutSpec:
    """A/B on Cookie ~ *variant=b* through the Ingress, 60 s bake, alarm `web-5xx` as gate."""
    base = ingress_spec(alb).model_dump(mode="json", exclude_none=True)
    base["strategy"] = COOKIE_AB
    base["traffic"].update({"ab_action": AB_ACTION, "ab_rule_arn": ab_rule, **traffic})
    base["traffic"] = {k: v for k, v in base["traffic"].items() if v is not None}
    return RolloutSpec.model_validate(base)


# service ----------------------------------------------------------------------------------------


def side(name: str, track: str, replicas: int) -> Workload:
    """A Deployment whose pods carry app=web (shared by both sides) and track=<track>."""
    labels = {"app": "web", "track": track}
    return Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace=NAMESPACE,
        name=name,
        selector=LabelSelector(labels),
        template=PodTemplate(labels=labels),
        replicas=replicas,
        labels=labels,
    )


def service_world(
    clock: VirtualClock, stable: int, candidate: int, selector: dict[str, str]
) -> FakeCluster:
    """A node with room, both Deployments, and Service `web` selecting `selector`; the pods
    are Ready when it returns."""
    kube = FakeCluster(clock)
    kube.add_node(
        Node("node-1", allocatable=Resources(cpu_millis=16000, memory_bytes=64 * 2**30, pods=110))
    )
    kube.add_workload(side("web-stable", "stable", stable))
    kube.add_workload(side("web-candidate", "candidate", candidate))
    kube.add_service(Service(NAMESPACE, SERVICE, selector))
    clock.sleep(30)
    return kube


@pytest.fixture
def blue_green_cluster(clock: VirtualClock) -> FakeCluster:
    """10 stable and 10 candidate pods Ready; the Service selects the stable ones."""
    return service_world(clock, 10, 10, {"app": "web", "track": "stable"})


@pytest.fixture
def canary_cluster(clock: VirtualClock) -> FakeCluster:
    """10 stable pods Ready, the candidate at 0; the Service selects app=web (both sides)."""
    return service_world(clock, 10, 0, {"app": "web"})


def service_spec(
    strategy: dict[str, Any], traffic: dict[str, Any], **overrides: Any
) -> RolloutSpec:
    document: dict[str, Any] = {
        "app": {
            "name": "web",
            "namespace": NAMESPACE,
            "stable": {"deployment": "web-stable"},
            "candidate": {"deployment": "web-candidate"},
        },
        "strategy": strategy,
        "traffic": {"provider": "service", "service": SERVICE, **traffic},
        "gates": [{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"]}],
    }
    document.update(overrides)
    return RolloutSpec.model_validate(document)


BLUE_GREEN_TRAFFIC = {
    "stable_selector": {"app": "web", "track": "stable"},
    "candidate_selector": {"app": "web", "track": "candidate"},
}
