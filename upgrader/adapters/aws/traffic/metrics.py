"""The `Metrics` port on CloudWatch: alarms and metric values for a rollout's gates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from upgrader.adapters.aws.clients import AwsClients
from upgrader.core.aws import Alarm, MetricQuery

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef


# describe_alarms takes at most 100 names per call.
_ALARM_NAMES_PER_CALL = 100


def metric_data_query(query: MetricQuery) -> MetricDataQueryTypeDef:
    return {
        "Id": "m0",
        "MetricStat": {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.metric_name,
                "Dimensions": [
                    {"Name": name, "Value": value} for name, value in query.dimensions.items()
                ],
            },
            "Period": query.period_seconds,
            "Stat": query.statistic,
        },
        "ReturnData": True,
    }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class Boto3Metrics:
    """`Metrics` on CloudWatch. Build it from an `AwsClients`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def describe_alarms(self, names: Sequence[str]) -> list[Alarm]:
        """The named alarms that exist, metric and composite, in the order asked for."""
        alarms: dict[str, Alarm] = {}
        unique = list(dict.fromkeys(names))
        for start in range(0, len(unique), _ALARM_NAMES_PER_CALL):
            for alarm in self._alarms(unique[start : start + _ALARM_NAMES_PER_CALL]):
                alarms[alarm.name] = alarm
        return [alarms[name] for name in unique if name in alarms]

    def _alarms(self, names: list[str]) -> list[Alarm]:
        cloudwatch = self.clients.cloudwatch

        def request() -> list[Alarm]:
            pages = cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            found = []
            for page in pages:
                for alarm in [*page.get("MetricAlarms", ()), *page.get("CompositeAlarms", ())]:
                    found.append(
                        Alarm(
                            name=alarm.get("AlarmName", ""),
                            state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                            reason=alarm.get("StateReason", ""),
                        )
                    )
            return found

        return self.clients.call_cloudwatch(request)

    def metric_values(self, query: MetricQuery, start: float, end: float) -> list[float]:
        cloudwatch = self.clients.cloudwatch
        queries = [metric_data_query(query)]

        def request() -> list[tuple[datetime, float]]:
            pages = cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=_utc(start),
                EndTime=_utc(end),
                ScanBy="TimestampAscending",
            )
            return [
                point
                for page in pages
                for result in page.get("MetricDataResults", ())
                for point in zip(
                    result.get("Timestamps", ()), result.get("Values", ()), strict=False
                )
            ]

        points = self.clients.call_cloudwatch(request)
        return [value for _, value in sorted(points, key=lambda p: p[0])]
