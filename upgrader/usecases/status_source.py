"""Which journal `eksup status` believes: the local file, the cluster's mirror, or both.

A run mirrors its journal to the ConfigMap `kube-system/eksup-journal-<cluster>` after every
record. A colleague on another machine has no local file; after a crash and a resume elsewhere,
this machine's file is behind. So status reads both when it can and takes their union (records
are identified by run id and sequence number), telling which one was newer; when the cluster
cannot be read it says so and shows the local file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from upgrader.core.errors import EksupError
from upgrader.core.run.journal import JOURNAL_NAMESPACE, Record, load_records
from upgrader.usecases.targets import OpenTarget


@dataclass(frozen=True)
class StatusRecords:
    records: list[Record]
    source: str  # where they came from, for the title of the table
    note: str = ""  # a warning for stderr, e.g. the mirror could not be read


def _last(records: list[Record]) -> float:
    return max((r.at for r in records), default=float("-inf"))


def status_records(
    path: Path, mirror_name: str, read_mirror: Callable[[], list[Record]] | None
) -> StatusRecords:
    """`read_mirror` None: the cluster is not to be asked (no target given)."""
    local, _ = load_records(path, None)
    local_source = str(path) if path.exists() else ""
    mirror_source = f"configmap {JOURNAL_NAMESPACE}/{mirror_name}"
    if read_mirror is None:
        return StatusRecords(local, local_source)
    try:
        remote = read_mirror()
    except EksupError as error:
        note = f"cannot read the journal mirror {mirror_source}: {error}"
        return StatusRecords(local, local_source, note + ("; showing the local file" * bool(local)))
    if not remote:
        return StatusRecords(local, local_source)
    if not local:
        return StatusRecords(remote, mirror_source)
    seen = {(r.run, r.seq) for r in local}
    extra = [r for r in remote if (r.run, r.seq) not in seen]
    if not extra:
        return StatusRecords(local, local_source)
    merged = sorted([*local, *extra], key=lambda r: (r.at, r.run, r.seq))
    newer = mirror_source if _last(remote) > _last(local) else local_source
    return StatusRecords(merged, f"{local_source} + {mirror_source} (newer: {newer})")


def read_status_records(
    plan_cluster: str,
    plan_region: str,
    path: Path,
    *,
    cluster: str | None,
    region: str | None,
    profile: str | None,
    context: str | None,
    sandbox: bool,
    open_target: OpenTarget,
) -> StatusRecords:
    """The records `eksup status` shows. The cluster is asked when there is no local file, or
    when the command names a cluster, a context or the sandbox: asking it otherwise would make
    every status call wait on the network and the kubeconfig's credentials."""
    from upgrader.core.run.journal import ConfigMapMirror, mirror_name

    name = mirror_name(cluster or plan_cluster)
    if path.exists() and not (cluster or context or sandbox):
        return status_records(path, name, None)

    def read() -> list[Record]:
        with open_target(
            cluster or plan_cluster,
            region=region or plan_region or None,
            profile=profile,
            context=context,
            sandbox=sandbox,
        ) as target:
            return ConfigMapMirror(target.kube, target.cluster_name, lambda _: None).read()

    return status_records(path, name, read)
