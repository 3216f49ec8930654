"""The `Dns` port on Route 53: weighted record sets, read and upserted whole (a record's health
check and other fields kept), within Route 53's 0-255 weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from upgrader.adapters.aws.clients import AwsClients
from upgrader.core.aws import WeightedRecord
from upgrader.core.errors import UserError

if TYPE_CHECKING:
    from mypy_boto3_route53.literals import RRTypeType
    from mypy_boto3_route53.type_defs import (
        ResourceRecordSetOutputTypeDef,
        ResourceRecordSetTypeDef,
    )


# Route 53 weighted routing: 0-255.
MAX_DNS_WEIGHT = 255


def _dns_name(name: str) -> str:
    """Route 53 answers lower-case, dot-terminated, with `*` escaped as \\052."""
    return name.replace("\\052", "*").rstrip(".").lower()


def record_from_route53(record: ResourceRecordSetOutputTypeDef) -> WeightedRecord:
    alias = record.get("AliasTarget")
    return WeightedRecord(
        name=record["Name"],
        type=record["Type"],
        set_identifier=record.get("SetIdentifier", ""),
        weight=record.get("Weight", 0),
        ttl=record.get("TTL"),
        values=tuple(r["Value"] for r in record.get("ResourceRecords", ())),
        alias_target=dict(alias) if alias is not None else None,
    )


def validate_weighted_record(record: WeightedRecord) -> None:
    if not 0 <= record.weight <= MAX_DNS_WEIGHT:
        raise UserError(
            f"Route 53 weight for {record.name} ({record.set_identifier}) must be "
            f"0-{MAX_DNS_WEIGHT}, got {record.weight}"
        )
    if not record.set_identifier:
        raise UserError(f"weighted record {record.name} needs a set identifier")
    if record.alias_target is not None and record.values:
        raise UserError(f"record {record.name} has both values and an alias target")


def upsert_record_set(
    record: WeightedRecord, existing: ResourceRecordSetOutputTypeDef | None
) -> ResourceRecordSetTypeDef:
    """The record set to UPSERT: the existing one (health check and all) with eksup's changes.

    UPSERT replaces the whole record set, so starting from what is there keeps the fields eksup
    does not model. A record with neither values nor alias target only changes the weight.
    """
    result: ResourceRecordSetTypeDef = (
        {**existing}
        if existing is not None
        else {
            "Name": record.name,
            "Type": cast("RRTypeType", record.type),
            "SetIdentifier": record.set_identifier,
        }
    )
    result["Weight"] = record.weight
    if record.alias_target is not None:
        alias = record.alias_target
        result["AliasTarget"] = {
            "HostedZoneId": str(alias["HostedZoneId"]),
            "DNSName": str(alias["DNSName"]),
            "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth", False)),
        }
        result.pop("TTL", None)
        result.pop("ResourceRecords", None)
    elif record.values:
        ttl = record.ttl if record.ttl is not None else result.get("TTL")
        if ttl is None:
            raise UserError(f"record {record.name} ({record.set_identifier}) needs a TTL")
        result["TTL"] = ttl
        result["ResourceRecords"] = [{"Value": v} for v in record.values]
        result.pop("AliasTarget", None)
    elif existing is None:
        raise UserError(
            f"new record {record.name} ({record.set_identifier}) needs values or an alias target"
        )
    return result


class Boto3Dns:
    """`Dns` on Route 53. Build it from an `AwsClients`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def weighted_records(self, zone_id: str, name: str, record_type: str) -> list[WeightedRecord]:
        return [record_from_route53(r) for r in self._record_sets(zone_id, name, record_type)]

    def upsert_weighted_records(self, zone_id: str, records: Sequence[WeightedRecord]) -> str:
        if not records:
            raise UserError("no weighted records to change")
        for record in records:
            validate_weighted_record(record)
        existing: dict[tuple[str, str, str], ResourceRecordSetOutputTypeDef] = {}
        for name, record_type in {(_dns_name(r.name), r.type) for r in records}:
            for found in self._record_sets(zone_id, name, record_type):
                key = (_dns_name(found["Name"]), found["Type"], found.get("SetIdentifier", ""))
                existing[key] = found
        changes = [
            upsert_record_set(r, existing.get((_dns_name(r.name), r.type, r.set_identifier)))
            for r in records
        ]
        route53 = self.clients.route53
        response = self.clients.call_route53(
            lambda: route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Comment": "eksup: weighted routing",
                    # UPSERT only: a CREATE of an existing identifier fails, and DELETE by set
                    # identifier is too blunt to leave to a rollout.
                    "Changes": [{"Action": "UPSERT", "ResourceRecordSet": c} for c in changes],
                },
            )
        )
        return response["ChangeInfo"]["Id"]

    def change_status(self, change_id: str) -> str:
        route53 = self.clients.route53
        response = self.clients.call_route53(lambda: route53.get_change(Id=change_id))
        return response["ChangeInfo"]["Status"]

    def _record_sets(
        self, zone_id: str, name: str, record_type: str
    ) -> list[ResourceRecordSetOutputTypeDef]:
        """The weighted record sets of one name and type, read from where they start."""
        route53 = self.clients.route53
        wanted = _dns_name(name)

        def request() -> list[ResourceRecordSetOutputTypeDef]:
            # The paginator cannot start at a name, so follow the Next* markers by hand.
            found: list[ResourceRecordSetOutputTypeDef] = []
            response = route53.list_resource_record_sets(
                HostedZoneId=zone_id,
                StartRecordName=name,
                StartRecordType=cast("RRTypeType", record_type),
            )
            while True:
                for record in response.get("ResourceRecordSets", ()):
                    if _dns_name(record["Name"]) == wanted and record["Type"] == record_type:
                        if "SetIdentifier" in record and "Weight" in record:
                            found.append(record)
                    else:
                        # The listing is sorted and starts at (name, type): past it, all is seen.
                        return found
                if not response.get("IsTruncated") or "NextRecordName" not in response:
                    return found
                response = route53.list_resource_record_sets(
                    HostedZoneId=zone_id,
                    StartRecordName=response["NextRecordName"],
                    StartRecordType=response.get("NextRecordType", "A"),
                    StartRecordIdentifier=response.get("NextRecordIdentifier", ""),
                )

        return self.clients.call_route53(request)
