"""The traffic ports through boto3: ELBv2 weighted forwarding, Route 53 weights, CloudWatch.

Rollout strategies move traffic by rewriting weights and read the result back; these adapters
validate weights before calling AWS (moto accepts any weight, AWS refuses them late) and leave
alone every part of a rule or record eksup does not model: the other actions of a listener,
target-group stickiness, a record's health check.

One module per service: `load_balancers` (ELBv2), `dns` (Route 53), `metrics` (CloudWatch);
this package names them all.
"""

from __future__ import annotations

from upgrader.adapters.aws.traffic.dns import (
    MAX_DNS_WEIGHT,
    Boto3Dns,
    record_from_route53,
    upsert_record_set,
    validate_weighted_record,
)
from upgrader.adapters.aws.traffic.load_balancers import (
    MAX_FORWARD_TARGET_GROUPS,
    MAX_FORWARD_WEIGHT,
    MAX_RULE_CONDITION_VALUES,
    Boto3LoadBalancers,
    condition_input,
    condition_values,
    forward_targets,
    header_condition,
    rule_from_elbv2,
    target_health_from_elbv2,
    validate_forward_weights,
    with_forward_weights,
)
from upgrader.adapters.aws.traffic.metrics import Boto3Metrics, metric_data_query

__all__ = [
    "MAX_DNS_WEIGHT",
    "MAX_FORWARD_TARGET_GROUPS",
    "MAX_FORWARD_WEIGHT",
    "MAX_RULE_CONDITION_VALUES",
    "Boto3Dns",
    "Boto3LoadBalancers",
    "Boto3Metrics",
    "condition_input",
    "condition_values",
    "forward_targets",
    "header_condition",
    "metric_data_query",
    "record_from_route53",
    "rule_from_elbv2",
    "target_health_from_elbv2",
    "upsert_record_set",
    "validate_forward_weights",
    "validate_weighted_record",
    "with_forward_weights",
]
