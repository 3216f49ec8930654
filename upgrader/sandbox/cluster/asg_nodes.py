"""Self-managed nodes in the sandbox: Auto Scaling instances join the cluster as nodes after a
boot delay, and a terminated instance's node object goes some time after the instance.

On AWS a self-managed node group is an Auto Scaling group whose instances run the EKS AMI's
bootstrap: an instance launches, boots, and its kubelet registers a Node named after the
instance's private DNS name, with `spec.providerID aws:///<zone>/<instance id>`, about a minute
and a half later. When the instance is terminated nothing deletes the Node at once: its kubelet
stops posting status, the node lifecycle controller marks it NotReady after
`--node-monitor-grace-period` (40 s, 50 s from Kubernetes 1.32), and the cloud node lifecycle
controller, which looks at NotReady nodes every `--node-monitor-period` (5 s), deletes the Node
once the cloud provider says the instance no longer exists (k8s.io/cloud-provider
controllers/nodelifecycle/node_lifecycle_controller.go; the Kubernetes documentation, "Nodes",
"Node controller"). Code that counts an instance gone when Auto Scaling stops listing it
therefore still sees its Node for about a minute: this module plays that gap.

Which cluster an instance joins comes from the group's `kubernetes.io/cluster/<name>` tag (what
eksctl and the EKS CloudFormation templates set); its node labels and taints from the group's
`k8s.io/cluster-autoscaler/node-template/label/<key>` and `.../taint/<key>` tags ("value:Effect"),
the convention that tells Cluster Autoscaler what a group's kubelet `--node-labels` and
`--register-with-taints` are; its kubelet version from the AMI (an EKS-optimized AMI of the
sandbox's public catalogue; any other AMI joins at the control plane's version).

The sandbox reconciles after every Auto Scaling request (in-process or through the moto
server), so no timer runs while nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.autoscaling.responses import AutoScalingResponse
from moto.core.models import DEFAULT_ACCOUNT_ID

from upgrader.core.errors import NotFoundError, UserError
from upgrader.core.kube import Node, Taint, TaintEffect
from upgrader.sandbox.aws_seed import public_images
from upgrader.sandbox.cluster.instance_types import instance_type

if TYPE_CHECKING:
    from upgrader.sandbox.cluster.world_view import WorldView

BOOT_SECONDS = 90.0  # launch to a Ready kubelet on the EKS AMI: a minute or two on AWS
# Instance terminated -> Node deleted: node-monitor-grace-period (40-50 s) + one 5 s look.
NODE_GONE_SECONDS = 45.0
CLUSTER_TAG = "kubernetes.io/cluster/"
LABEL_TAG = "k8s.io/cluster-autoscaler/node-template/label/"
TAINT_TAG = "k8s.io/cluster-autoscaler/node-template/taint/"
_GONE = ("shutting-down", "terminated", "stopping", "stopped")
_EFFECTS = {e.value: e for e in TaintEffect}

_listeners: list[Callable[[], None]] = []
_install_lock = threading.Lock()
_installed = [False]


def install() -> None:
    """Tell the listeners after every Auto Scaling request moto answers. Idempotent."""
    with _install_lock:
        if _installed[0]:
            return
        original = AutoScalingResponse.call_action

        def call_action(self: AutoScalingResponse) -> Any:
            result = original(self)
            for listener in list(_listeners):
                listener()
            return result

        AutoScalingResponse.call_action = call_action  # type: ignore[method-assign]
        _installed[0] = True


@dataclass(frozen=True)
class _Image:
    version: str  # "1.30"
    patch: str  # "14"
    arch: str  # "amd64" or "arm64"


def _catalogue(region: str) -> dict[str, _Image]:
    images = {}
    for image in public_images(region):
        match = re.search(r"(\d+\.\d+)", image.release_version)
        if match is None:
            continue
        patch = re.match(r"\d+\.\d+\.(\d+)", image.release_version)
        arch = "arm64" if image.architecture == "arm64" else "amd64"
        images[image.image_id] = _Image(match.group(1), patch.group(1) if patch else "0", arch)
    return images


def parse_taint(key: str, text: str) -> Taint | None:
    """A node-template taint tag's value, "value:NoSchedule" (or "NoSchedule"), as a Taint."""
    value, _, effect = text.rpartition(":")
    found = _EFFECTS.get(effect)
    return Taint(key, found, value) if found is not None else None


class AsgNodes:
    """Keeps one sandbox's clusters' nodes in step with its Auto Scaling groups' instances."""

    def __init__(self, world: WorldView, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self.world = world
        self.account_id = account_id
        self._lock = threading.RLock()
        self._joining: set[str] = set()  # instance ids whose node is booting
        self._leaving: set[str] = set()  # node names the lifecycle controller will delete
        self._nodes: dict[str, tuple[str, str]] = {}  # instance id -> (cluster, node name)
        self._images: dict[str, _Image] | None = None

    def start(self) -> None:
        install()
        _listeners.append(self.reconcile)

    def stop(self) -> None:
        if self.reconcile in _listeners:
            _listeners.remove(self.reconcile)

    # -- reading moto ------------------------------------------------------------------------

    def _backend(self) -> Any:
        from moto.autoscaling.models import autoscaling_backends

        return autoscaling_backends[self.account_id][self.world.region]

    def _clusters(self) -> set[str]:
        from upgrader.sandbox.eks.backend import eks_backend

        return set(eks_backend(self.world.region, self.account_id).clusters)

    def _instance_state(self, instance_id: str) -> str:
        ec2 = self._backend().ec2_backend
        try:
            return str(ec2.get_instance(instance_id)._state.name)
        except Exception:
            return "terminated"

    # -- reconciling -------------------------------------------------------------------------

    def reconcile(self) -> None:
        with self._lock:
            clusters = self._clusters()
            for group in list(self._backend().autoscaling_groups.values()):
                tags = {t["Key"]: t.get("Value", "") for t in group.tags}
                cluster = next(
                    (k.removeprefix(CLUSTER_TAG) for k in tags if k.startswith(CLUSTER_TAG)), ""
                )
                if cluster not in clusters:
                    continue
                for state in group.instance_states:
                    instance = state.instance
                    if instance.id in self._joining or instance.id in self._nodes:
                        continue
                    if self._instance_state(instance.id) in _GONE:
                        continue
                    self._joining.add(instance.id)
                    boot = functools.partial(self._booted, cluster, instance, tags)
                    self.world.clock.call_later(BOOT_SECONDS, boot)
            for instance_id, (cluster, name) in list(self._nodes.items()):
                if name in self._leaving or self._instance_state(instance_id) not in _GONE:
                    continue
                self._leaving.add(name)
                gone = functools.partial(self._gone, cluster, instance_id, name)
                self.world.clock.call_later(NODE_GONE_SECONDS, gone)

    def _booted(self, cluster: str, instance: Any, tags: dict[str, str]) -> None:
        self._join(cluster, instance, tags)  # looked up late: tests replace `_join`

    def _join(self, cluster: str, instance: Any, tags: dict[str, str]) -> None:
        with self._lock:
            self._joining.discard(instance.id)
            if self._instance_state(instance.id) in _GONE:
                return
            kube = self.world.kube(cluster)
            if self._images is None:
                self._images = _catalogue(self.world.region)
            image = self._images.get(instance.image_id)
            if image is None:
                minor = re.match(r"v?(\d+\.\d+)", kube.server_version())
                image = _Image(minor.group(1) if minor else "", "0", "amd64")
            try:
                itype = instance_type(instance.instance_type)
                allocatable, arch = itype.allocatable, itype.arch
            except UserError:
                allocatable, arch = instance_type("m5.large").allocatable, image.arch
            zone = instance.placement.zone
            name = instance.private_dns_name
            labels = {
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "arm64" if arch == "arm64" else "amd64",
                **{
                    k.removeprefix(LABEL_TAG): v for k, v in tags.items() if k.startswith(LABEL_TAG)
                },
                "node.kubernetes.io/instance-type": instance.instance_type,
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": self.world.region,
                "kubernetes.io/hostname": name,
            }
            taints = tuple(
                t
                for k, v in tags.items()
                if k.startswith(TAINT_TAG)
                and (t := parse_taint(k.removeprefix(TAINT_TAG), v)) is not None
            )
            kube.add_node(
                Node(
                    name=name,
                    labels=labels,
                    taints=taints,
                    kubelet_version=f"v{image.version}.{image.patch}-eks-sandbox",
                    allocatable=allocatable,
                    provider_id=f"aws:///{zone}/{instance.id}",
                )
            )
            self._nodes[instance.id] = (cluster, name)

    def _gone(self, cluster: str, instance_id: str, name: str) -> None:
        with self._lock:
            self._leaving.discard(name)
            self._nodes.pop(instance_id, None)
            with contextlib.suppress(NotFoundError):  # deleted first (kubectl delete node)
                self.world.kube(cluster).remove_node(name)
