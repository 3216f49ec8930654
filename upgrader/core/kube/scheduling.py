"""Nodes, and what decides whether a pod may run on one: taints and tolerations, resource
quantities, label selectors and required node affinity."""

from __future__ import annotations

import operator as compare
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
FARGATE_COMPUTE_LABEL = "eks.amazonaws.com/compute-type"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


@dataclass(frozen=True)
class Taint:
    key: str
    effect: TaintEffect
    value: str = ""

    def __str__(self) -> str:
        value = f"={self.value}" if self.value else ""
        return f"{self.key}{value}:{self.effect.value}"


@dataclass(frozen=True)
class Toleration:
    """A pod's toleration. `operator` is "Equal" or "Exists"; Exists with no key tolerates all."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: TaintEffect | None = None
    toleration_seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return self.key in ("", taint.key)
        return self.key == taint.key and self.value == taint.value


def tolerates_all(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> bool:
    """True when every NoSchedule/NoExecute taint is tolerated (PreferNoSchedule never blocks)."""
    return all(
        taint.effect is TaintEffect.PREFER_NO_SCHEDULE
        or any(t.tolerates(taint) for t in tolerations)
        for taint in taints
    )


@dataclass(frozen=True)
class Resources:
    """Requests or allocatable: CPU in millicores, memory in bytes, and a pod count."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.pods + other.pods,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.pods - other.pods,
        )

    def fits_in(self, room: Resources) -> bool:
        return (
            self.cpu_millis <= room.cpu_millis
            and self.memory_bytes <= room.memory_bytes
            and self.pods <= room.pods
        )


_MEMORY_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$")


def parse_cpu(quantity: str | int | float) -> int:
    """Kubernetes CPU quantity ("250m", "2", "0.5") to millicores."""
    text = str(quantity).strip()
    if text.endswith("m"):
        return int(float(text[:-1]))
    if text.endswith("n"):
        return int(float(text[:-1]) / 1_000_000)
    return int(float(text) * 1000)


def parse_memory(quantity: str | int | float) -> int:
    """Kubernetes memory quantity ("128Mi", "1G", "1e9") to bytes."""
    text = str(quantity).strip()
    match = _QUANTITY.match(text)
    if match is None:
        return int(float(text))
    number, suffix = match.groups()
    if suffix == "m":  # millibytes: legal, odd, and seen in the wild
        return int(float(number) / 1000)
    return int(float(number) * _MEMORY_SUFFIXES.get(suffix, 1))


_COMPARE: Mapping[str, Callable[[int, int], bool]] = {
    "Gt": compare.gt,
    "Lt": compare.lt,
    "Gte": compare.ge,
    "Lte": compare.le,
}


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    # In, NotIn, Exists, DoesNotExist (Gt/Lt for node affinity; Gte/Lte only in Karpenter
    # NodePool requirements: scheduling.md, "Karpenter extends the upstream Kubernetes
    # requirement operators with Gte (>=) and Lte (<=)")
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator in _COMPARE and present and self.values:
            try:
                actual, bound = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return _COMPARE[self.operator](actual, bound)
        return False


@dataclass(frozen=True)
class LabelSelector:
    """matchLabels plus matchExpressions; the empty selector matches everything."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.match_labels.items())]
        for r in self.match_expressions:
            if r.operator in ("In", "NotIn"):
                parts.append(f"{r.key} {r.operator.lower()} ({','.join(r.values)})")
            elif r.operator == "Exists":
                parts.append(r.key)
            elif r.operator == "DoesNotExist":
                parts.append(f"!{r.key}")
        return ",".join(parts)

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.match_labels.items())), self.match_expressions))


# A null PDB selector: policy/v1 says it selects no pod (an empty one, `{}`, selects them all).
# `In` with no values matches nothing, and a server would reject it, so it cannot be mistaken
# for a selector someone wrote.
MATCH_NOTHING = LabelSelector(match_expressions=(SelectorRequirement("", "In", ()),))


@dataclass(frozen=True)
class NodeAffinity:
    """Required node affinity: the node must match at least one term (terms are ORed)."""

    terms: tuple[tuple[SelectorRequirement, ...], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.terms or any(all(r.matches(labels) for r in term) for term in self.terms)


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    ready: bool = True
    kubelet_version: str = ""  # "v1.29.3-eks-ae9a62a", as the kubelet reports it
    allocatable: Resources = Resources()
    created_at: float = 0.0
    provider_id: str = ""

    @property
    def nodegroup(self) -> str | None:
        return self.labels.get(NODEGROUP_LABEL)

    @property
    def minor_version(self) -> str:
        """ "1.29" from "v1.29.3-eks-ae9a62a"; empty when the kubelet version is unknown."""
        match = re.match(r"v?(\d+)\.(\d+)", self.kubelet_version)
        return f"{match.group(1)}.{match.group(2)}" if match else ""
