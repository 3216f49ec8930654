"""Dry run: the real ports for every read, a record instead of every change.

`execute --dry-run` runs the same steps on the same code path; only the ports differ. Each
wrapper passes reads through to the real port and turns a mutating call into an
`IntendedCall` ("would call eks:UpdateClusterVersion cluster=demo version=1.30"), printed as it
is recorded and returned in the `RunResult`.

The AWS wrappers also keep an overlay of what the recorded calls would have done, so a later
step sees the world the earlier ones would have left: after a recorded control-plane update the
cluster reads at the new version, a recorded green group reads ACTIVE, a deleted blue group
reads gone, an add-on reads at its new version. Without it the second hop's preconditions
would fail against the unchanged cluster and a dry run could not say anything about them.
A scaled workload reads at its new replica count. What no overlay can fake (nodes joining,
pods moving) the steps handle themselves: a wait is
read once and reported instead of waited on, and a drain is reported instead of run.

Neither the journal file, nor its ConfigMap, nor the lock are written in a dry run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from upgrader.core.aws import (
    Addon,
    AddonVersion,
    AutoScalingGroup,
    EksCluster,
    EksUpdate,
    EksVersionFacts,
    FargateProfile,
    ForwardRule,
    Insight,
    LaunchTemplateVersion,
    Nodegroup,
    NodegroupSpec,
    Subnet,
    TargetHealth,
    TargetWeight,
    UpdateConfig,
    UpdateStatus,
)
from upgrader.core.errors import (
    ConflictError,
    EksupError,
    NotFoundError,
    PermanentError,
    TemporaryError,
)
from upgrader.core.kube import (
    AmiSelectorTerm,
    ConfigMap,
    DeprecatedApiRequest,
    HelmRelease,
    HorizontalPodAutoscaler,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    Lease,
    Node,
    NodeClaim,
    NodeClass,
    NodePool,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    Service,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.core.ports import Cluster, Compute, ControlPlane, LoadBalancers
from upgrader.execute.reporter import Reporter
from upgrader.versions import KubeVersion

DRY_RUN_UPDATE_PREFIX = "dry-run-"


@dataclass(frozen=True)
class IntendedCall:
    service: str  # eks, ec2, autoscaling, kubernetes
    action: str  # the API's name: UpdateClusterVersion, cordon, evict, ...
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.service}:{self.action}" + (f" {args}" if args else "")


class ServerRefusedError(PermanentError):
    """AWS (DryRun) or the API server (dryRun=All), asked first, refused a change the run
    would make."""


class Recorder:
    """The calls a dry run would have made, in order."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.calls: list[IntendedCall] = []

    def record(self, service: str, action: str, **params: object) -> None:
        call = IntendedCall(
            service, action, tuple((k, str(v)) for k, v in params.items() if v is not None)
        )
        self.calls.append(call)
        self.reporter.action(f"call {call}", dry_run=True)


class DryRunControlPlane:
    """`ControlPlane`: reads through to `inner`, records changes and overlays their effect."""

    def __init__(self, inner: ControlPlane, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self._ids = itertools.count(1)
        self._cluster_version: dict[str, str] = {}
        self._created: dict[tuple[str, str], Nodegroup] = {}
        self._deleted: set[tuple[str, str]] = set()
        self._group_version: dict[tuple[str, str], str] = {}
        self._addon_version: dict[tuple[str, str], str] = {}
        self._update_config: dict[tuple[str, str], UpdateConfig] = {}

    def _update(self, kind: str, **params: str) -> EksUpdate:
        return EksUpdate(
            f"{DRY_RUN_UPDATE_PREFIX}{next(self._ids)}", kind, UpdateStatus.IN_PROGRESS, params
        )

    # reads, with the overlay
    def describe_cluster(self, name: str) -> EksCluster:
        cluster = self.inner.describe_cluster(name)
        version = self._cluster_version.get(name)
        return replace(cluster, version=version, status="ACTIVE") if version else cluster

    def list_nodegroups(self, cluster: str) -> list[str]:
        names = [
            n for n in self.inner.list_nodegroups(cluster) if (cluster, n) not in self._deleted
        ]
        names += [n for (c, n) in self._created if c == cluster and (c, n) not in self._deleted]
        return sorted(set(names))

    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        key = (cluster, name)
        if key in self._deleted:
            raise NotFoundError(f"node group {name} (deleted in this dry run)")
        group = self._created.get(key) or self.inner.describe_nodegroup(cluster, name)
        if key in self._update_config:
            group = replace(group, update_config=self._update_config[key])
        version = self._group_version.get(key)
        return replace(group, version=version, status="ACTIVE") if version else group

    def describe_update(
        self,
        cluster: str,
        update_id: str,
        *,
        nodegroup: str | None = None,
        addon: str | None = None,
    ) -> EksUpdate:
        if update_id.startswith(DRY_RUN_UPDATE_PREFIX):
            return EksUpdate(update_id, "", UpdateStatus.SUCCESSFUL)
        return self.inner.describe_update(cluster, update_id, nodegroup=nodegroup, addon=addon)

    def list_updates(
        self, cluster: str, nodegroup: str | None = None, addon: str | None = None
    ) -> list[str]:
        if (cluster, nodegroup or "") in self._created:
            return []
        return self.inner.list_updates(cluster, nodegroup=nodegroup, addon=addon)

    def list_addons(self, cluster: str) -> list[str]:
        return self.inner.list_addons(cluster)

    def describe_addon(self, cluster: str, name: str) -> Addon:
        addon = self.inner.describe_addon(cluster, name)
        version = self._addon_version.get((cluster, name))
        return replace(addon, version=version, status="ACTIVE") if version else addon

    def describe_addon_versions(
        self, kubernetes_version: str, addon_name: str | None = None
    ) -> list[AddonVersion]:
        return self.inner.describe_addon_versions(kubernetes_version, addon_name)

    def list_insights(self, cluster: str) -> list[Insight]:
        return self.inner.list_insights(cluster)

    def describe_cluster_versions(self) -> list[EksVersionFacts]:
        return self.inner.describe_cluster_versions()

    def list_fargate_profiles(self, cluster: str) -> list[FargateProfile]:
        return self.inner.list_fargate_profiles(cluster)

    # changes: recorded, and overlaid
    def update_cluster_version(
        self, cluster: str, version: str, *, force: bool = False
    ) -> EksUpdate:
        before = self.describe_cluster(cluster).version
        self.recorder.record(
            "eks", "UpdateClusterVersion", cluster=cluster, version=version, force=force or None
        )
        self._cluster_version[cluster] = version
        down = KubeVersion.parse(version) < KubeVersion.parse(before)
        return self._update("VersionRollback" if down else "VersionUpdate", Version=version)

    def create_nodegroup(self, spec: NodegroupSpec) -> Nodegroup:
        self.recorder.record(
            "eks",
            "CreateNodegroup",
            cluster=spec.cluster,
            nodegroup=spec.name,
            version=spec.version,
            instanceTypes=",".join(spec.instance_types) or None,
            desired=spec.scaling.desired_size,
        )
        version = spec.version or self.describe_cluster(spec.cluster).version
        group = Nodegroup(
            cluster=spec.cluster,
            name=spec.name,
            arn="(dry run)",
            status="ACTIVE",
            version=version,
            release_version=spec.release_version or "",
            ami_type=spec.ami_type or "",
            capacity_type=spec.capacity_type,
            instance_types=spec.instance_types,
            subnets=spec.subnets,
            scaling=spec.scaling,
            node_role=spec.node_role,
            labels=spec.labels,
            taints=spec.taints,
            launch_template=spec.launch_template,
            update_config=spec.update_config or UpdateConfig(),
            disk_size=spec.disk_size,
            tags=spec.tags,
        )
        self._created[(spec.cluster, spec.name)] = group
        self._deleted.discard((spec.cluster, spec.name))
        return group

    def delete_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        self.recorder.record("eks", "DeleteNodegroup", cluster=cluster, nodegroup=name)
        group = self.describe_nodegroup(cluster, name)
        self._deleted.add((cluster, name))
        return replace(group, status="DELETING")

    def update_nodegroup_version(
        self,
        cluster: str,
        name: str,
        *,
        version: str | None = None,
        release_version: str | None = None,
        launch_template_version: str | None = None,
        force: bool = False,
    ) -> EksUpdate:
        self.recorder.record(
            "eks",
            "UpdateNodegroupVersion",
            cluster=cluster,
            nodegroup=name,
            version=version,
            releaseVersion=release_version,
            launchTemplateVersion=launch_template_version,
            force=force or None,
        )
        target = version or self.describe_cluster(cluster).version
        self._group_version[(cluster, name)] = target
        return self._update("VersionUpdate", Version=target)

    def update_nodegroup_scaling(
        self, cluster: str, name: str, min_size: int, max_size: int, desired_size: int
    ) -> EksUpdate:
        self.recorder.record(
            "eks",
            "UpdateNodegroupConfig",
            cluster=cluster,
            nodegroup=name,
            minSize=min_size,
            maxSize=max_size,
            desiredSize=desired_size,
        )
        return self._update("ConfigUpdate")

    def update_nodegroup_update_config(
        self, cluster: str, name: str, config: UpdateConfig
    ) -> EksUpdate:
        key = (
            "maxUnavailablePercentage"
            if config.max_unavailable_percentage is not None
            else "maxUnavailable"
        )
        self.recorder.record(
            "eks", "UpdateNodegroupConfig", cluster=cluster, nodegroup=name, **{key: str(config)}
        )
        self._update_config[(cluster, name)] = config
        return self._update("ConfigUpdate")

    def update_addon(self, cluster: str, name: str, version: str) -> EksUpdate:
        self.recorder.record("eks", "UpdateAddon", cluster=cluster, addon=name, version=version)
        self._addon_version[(cluster, name)] = version
        return self._update("AddonUpdate", AddonVersion=version)


class DryRunCompute:
    """`Compute`: reads through, changes recorded."""

    def __init__(self, inner: Compute, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def describe_subnets(self, subnet_ids: Sequence[str]) -> list[Subnet]:
        return self.inner.describe_subnets(subnet_ids)

    def describe_launch_template_version(
        self, template_id: str, version: str
    ) -> LaunchTemplateVersion:
        return self.inner.describe_launch_template_version(template_id, version)

    def create_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> LaunchTemplateVersion:
        self.recorder.record(
            "ec2",
            "CreateLaunchTemplateVersion",
            template=template_id,
            source=source_version,
            image=image_id,
        )
        try:
            self.inner.check_launch_template_version(template_id, source_version, image_id)
        except (NotFoundError, TemporaryError):
            pass  # a template only the dry run knows, or a busy API: no verdict
        except EksupError as error:
            raise ServerRefusedError(
                f"EC2 would refuse CreateLaunchTemplateVersion (DryRun): {error}"
            ) from None
        return LaunchTemplateVersion(template_id, "", "(dry run)", image_id)

    def check_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> None:
        self.inner.check_launch_template_version(template_id, source_version, image_id)

    def list_cluster_auto_scaling_groups(self, cluster: str) -> list[AutoScalingGroup]:
        return self.inner.list_cluster_auto_scaling_groups(cluster)

    def set_launch_template(self, group: str, template_id: str, version: str) -> None:
        self.recorder.record(
            "autoscaling",
            "UpdateAutoScalingGroup",
            group=group,
            template=template_id,
            version=version,
        )

    def set_desired_capacity(self, group: str, desired: int) -> None:
        self.recorder.record("autoscaling", "SetDesiredCapacity", group=group, desired=desired)

    def suspend_processes(self, group: str, processes: Sequence[str]) -> None:
        self.recorder.record(
            "autoscaling", "SuspendProcesses", group=group, processes=",".join(processes)
        )

    def resume_processes(self, group: str, processes: Sequence[str]) -> None:
        self.recorder.record(
            "autoscaling", "ResumeProcesses", group=group, processes=",".join(processes)
        )

    def terminate_instance(self, instance_id: str, decrement_desired: bool) -> None:
        self.recorder.record(
            "autoscaling",
            "TerminateInstanceInAutoScalingGroup",
            instance=instance_id,
            decrement=decrement_desired,
        )

    def get_parameter(self, name: str) -> str:
        return self.inner.get_parameter(name)


class DryRunCluster:
    """`Cluster`: reads through, changes recorded (as kubectl would name them).

    With a `validator` (the real cluster's server-dry-run twin), each change is also sent to the
    API server with dryRun=All: it checks authorization, validation and admission webhooks and
    keeps nothing, so a dry run finds the RBAC rule or webhook the real run would hit. Objects
    only the dry run's overlay knows (a node group created an hop earlier) answer 404: no
    verdict, and neither is a busy server's 409 or 429."""

    def __init__(
        self, inner: Cluster, recorder: Recorder, validator: Cluster | None = None
    ) -> None:
        self.inner = inner
        self.recorder = recorder
        self.validator = validator
        self._replicas: dict[tuple[WorkloadKind, str, str], int] = {}
        self._ami_terms: dict[str, tuple[AmiSelectorTerm, ...]] = {}
        self._routes: dict[tuple[str, str], HTTPRoute] = {}

    def _record(self, action: str, **params: object) -> None:
        self.recorder.record("kubernetes", action, **params)

    def _check(self, action: str, send: Callable[[Cluster], object]) -> None:
        if self.validator is None:
            return
        try:
            send(self.validator)
        except (NotFoundError, TemporaryError):
            return
        except EksupError as error:
            raise ServerRefusedError(f"the API server would refuse {action}: {error}") from None

    def _scaled(self, workload: Workload) -> Workload:
        replicas = self._replicas.get((workload.kind, workload.namespace, workload.name))
        return workload if replicas is None else replace(workload, replicas=replicas)

    # reads
    def server_version(self) -> str:
        return self.inner.server_version()

    def watching(self) -> AbstractContextManager[None]:
        return self.inner.watching()

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        return self.inner.list_nodes(label_selector)

    def get_node(self, name: str) -> Node:
        return self.inner.get_node(name)

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        return self.inner.list_pods(namespace, node_name, label_selector)

    def get_pod(self, namespace: str, name: str) -> Pod:
        return self.inner.get_pod(namespace, name)

    def list_workloads(
        self, kind: WorkloadKind | None = None, namespace: str | None = None
    ) -> list[Workload]:
        return [self._scaled(w) for w in self.inner.list_workloads(kind, namespace)]

    def get_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        return self._scaled(self.inner.get_workload(kind, namespace, name))

    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        return self.inner.list_pdbs(namespace)

    def list_services(self, namespace: str | None = None) -> list[Service]:
        return self.inner.list_services(namespace)

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        return self.inner.list_persistent_volumes()

    def get_service(self, namespace: str, name: str) -> Service:
        return self.inner.get_service(namespace, name)

    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]:
        return self.inner.list_hpas(namespace)

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        return self.inner.deprecated_api_requests()

    def helm_releases(self) -> list[HelmRelease]:
        return self.inner.helm_releases()

    def get_ingress(self, namespace: str, name: str) -> Ingress:
        return self.inner.get_ingress(namespace, name)

    def get_lease(self, namespace: str, name: str) -> Lease:
        return self.inner.get_lease(namespace, name)

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        return self.inner.get_config_map(namespace, name)

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        return self._routes.get((namespace, name)) or self.inner.get_http_route(namespace, name)

    # changes
    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        self._record("cordon" if unschedulable else "uncordon", node=name)
        self._check(f"cordon {name}", lambda v: v.set_unschedulable(name, unschedulable))
        return replace(self.inner.get_node(name), unschedulable=unschedulable)

    def add_taint(self, name: str, taint: Taint) -> Node:
        self._record("taint", node=name, taint=str(taint))
        self._check(f"taint {name}", lambda v: v.add_taint(name, taint))
        node = self.inner.get_node(name)
        return replace(node, taints=(*node.taints, taint))

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node:
        self._record("untaint", node=name, taint=f"{key}:{effect.value}")
        self._check(f"untaint {name}", lambda v: v.remove_taint(name, key, effect))
        node = self.inner.get_node(name)
        kept = tuple(t for t in node.taints if (t.key, t.effect) != (key, effect))
        return replace(node, taints=kept)

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        self._record("label", node=name, labels=",".join(f"{k}={v}" for k, v in labels.items()))
        self._check(f"label {name}", lambda v: v.label_node(name, labels))
        return self.inner.get_node(name)

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        self._record("evict", pod=f"{namespace}/{name}", grace=grace_period_seconds)

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        self._record("delete", pod=f"{namespace}/{name}", grace=grace_period_seconds)
        self._check(
            f"delete pod {namespace}/{name}",
            lambda v: v.delete_pod(namespace, name, grace_period_seconds),
        )

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload:
        self._record("scale", workload=f"{kind.value}/{namespace}/{name}", replicas=replicas)
        self._check(
            f"scale {kind.value} {namespace}/{name}",
            lambda v: v.scale_workload(kind, namespace, name, replicas),
        )
        self._replicas[(kind, namespace, name)] = replicas
        return self.get_workload(kind, namespace, name)

    def restart_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        self._record("rollout-restart", workload=f"{kind.value}/{namespace}/{name}")
        self._check(
            f"restart {kind.value} {namespace}/{name}",
            lambda v: v.restart_workload(kind, namespace, name),
        )
        return self.inner.get_workload(kind, namespace, name)

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service:
        self._record(
            "patch-service",
            service=f"{namespace}/{name}",
            selector=",".join(f"{k}={v}" for k, v in selector.items()),
        )
        self._check(
            f"patch service {namespace}/{name}",
            lambda v: v.patch_service_selector(namespace, name, selector),
        )
        return replace(self.inner.get_service(namespace, name), selector=dict(selector))

    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        self._record("patch-hpa", hpa=f"{namespace}/{name}", minReplicas=str(min_replicas))
        self._check(
            f"patch hpa {namespace}/{name}",
            lambda v: v.set_hpa_min_replicas(namespace, name, min_replicas),
        )
        found = [h for h in self.inner.list_hpas(namespace) if h.name == name]
        if not found:
            raise NotFoundError(f"horizontalpodautoscaler {namespace}/{name}")
        return replace(found[0], min_replicas=min_replicas)

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        self._record(
            "annotate-ingress",
            ingress=f"{namespace}/{name}",
            annotations=" ".join(
                f"{k}-" if v is None else f"{k}={v}" for k, v in annotations.items()
            ),
        )
        self._check(
            f"annotate ingress {namespace}/{name}",
            lambda v: v.patch_ingress_annotations(namespace, name, annotations),
        )
        ingress = self.inner.get_ingress(namespace, name)
        merged = {k: v for k, v in ingress.annotations.items() if k not in annotations}
        merged.update({k: v for k, v in annotations.items() if v is not None})
        return replace(ingress, annotations=merged)

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        self._record("replace-httproute-rules", httproute=f"{namespace}/{name}", rules=len(rules))
        current = self.get_http_route(namespace, name)
        if resource_version != current.resource_version:
            raise ConflictError(f"HTTPRoute {namespace}/{name} moved since it was read")
        # Read back as its controller would accept it, so a dry run can go on past the change.
        generation = current.generation + 1
        route = replace(
            current,
            rules=tuple(rules),
            generation=generation,
            resource_version=f"{DRY_RUN_UPDATE_PREFIX}{generation}",
            parents=tuple(replace(p, observed_generation=generation) for p in current.parents),
        )
        self._routes[(namespace, name)] = route
        return route

    def create_lease(self, lease: Lease) -> Lease:
        self._record("create-lease", lease=f"{lease.namespace}/{lease.name}")
        return lease

    def update_lease(self, lease: Lease) -> Lease:
        self._record("update-lease", lease=f"{lease.namespace}/{lease.name}")
        return lease

    def delete_lease(self, namespace: str, name: str) -> None:
        self._record("delete-lease", lease=f"{namespace}/{name}")

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        self._record("apply-configmap", configmap=f"{config_map.namespace}/{config_map.name}")
        return config_map

    # Karpenter: a patched node class reads with its new terms (Karpenter would not have
    # resolved them yet, so `amis` stays as it is)
    def list_node_pools(self) -> list[NodePool]:
        return self.inner.list_node_pools()

    def list_node_classes(self) -> list[NodeClass]:
        return [self._patched(c) for c in self.inner.list_node_classes()]

    def get_node_class(self, name: str) -> NodeClass:
        return self._patched(self.inner.get_node_class(name))

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        return self.inner.list_node_claims(node_pool)

    def patch_node_class_ami_selector(
        self, name: str, terms: Sequence[AmiSelectorTerm]
    ) -> NodeClass:
        self._record(
            "patch-ec2nodeclass",
            ec2nodeclass=name,
            amiSelectorTerms=",".join(str(t.to_json()) for t in terms),
        )
        self._check(
            f"patch ec2nodeclass {name}",
            lambda v: v.patch_node_class_ami_selector(name, terms),
        )
        self._ami_terms[name] = tuple(terms)
        return self.get_node_class(name)

    def _patched(self, node_class: NodeClass) -> NodeClass:
        terms = self._ami_terms.get(node_class.name)
        return node_class if terms is None else replace(node_class, ami_selector_terms=terms)


class DryRunLoadBalancers:
    """`LoadBalancers`: reads through; rule changes recorded and overlaid on the reads."""

    def __init__(self, inner: LoadBalancers, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self._weights: dict[str, tuple[TargetWeight, ...]] = {}
        self._created: dict[str, list[ForwardRule]] = {}  # by listener
        self._deleted: set[str] = set()
        self._serial = itertools.count(1)

    def describe_forward_rules(self, listener_arn: str) -> list[ForwardRule]:
        rules = [
            replace(r, targets=self._weights.get(r.arn, r.targets))
            for r in [*self.inner.describe_forward_rules(listener_arn)]
            if r.arn not in self._deleted
        ]
        created = [r for r in self._created.get(listener_arn, []) if r.arn not in self._deleted]
        return [rules[0], *sorted([*rules[1:], *created], key=lambda r: int(r.priority))]

    def set_forward_weights(self, rule_arn: str, weights: Mapping[str, int]) -> ForwardRule:
        self.recorder.record(
            "elbv2",
            "ModifyRule",
            rule=rule_arn,
            forward=",".join(f"{arn.rsplit('/', 2)[-2]}={w}" for arn, w in weights.items()),
        )
        self._weights[rule_arn] = tuple(TargetWeight(a, w) for a, w in weights.items())
        return ForwardRule(rule_arn, "", self._weights[rule_arn])

    def target_health(self, target_group_arn: str) -> list[TargetHealth]:
        return self.inner.target_health(target_group_arn)

    def put_header_rule(
        self,
        listener_arn: str,
        priority: int,
        header: str,
        values: Sequence[str],
        *,
        target_group_arn: str,
        conditions: Sequence[Mapping[str, object]] = (),
    ) -> ForwardRule:
        self.recorder.record(
            "elbv2",
            "CreateRule",
            listener=listener_arn,
            priority=priority,
            header=f"{header}={'|'.join(values)}",
            forward=target_group_arn,
        )
        condition = {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": header, "Values": list(values)},
        }
        listener = listener_arn.replace(":listener/", ":listener-rule/", 1)
        rule = ForwardRule(
            arn=f"{listener}/{DRY_RUN_UPDATE_PREFIX}{next(self._serial)}",
            priority=str(priority),
            targets=(TargetWeight(target_group_arn, 1),),
            conditions=(*conditions, condition),
        )
        self._created.setdefault(listener_arn, []).append(rule)
        return rule

    def delete_rule(self, rule_arn: str) -> None:
        self.recorder.record("elbv2", "DeleteRule", rule=rule_arn)
        self._deleted.add(rule_arn)


if TYPE_CHECKING:
    # mypy proves here that each wrapper satisfies its port.
    def _implements_ports(
        a: DryRunControlPlane, b: DryRunCompute, c: DryRunCluster, d: DryRunLoadBalancers
    ) -> tuple[ControlPlane, Compute, Cluster, LoadBalancers]:
        return a, b, c, d
