"""How traffic reaches pods: Services, Ingresses (with the AWS Load Balancer Controller's
annotations) and Gateway API HTTPRoutes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServicePort:
    """One entry of a Service's spec.ports (keyed by port and protocol, as the API merges them)."""

    port: int
    protocol: str = "TCP"
    target_port: str = ""  # a number or a container port's name, as text; "" = the port
    name: str = ""
    node_port: int = 0  # NodePort and LoadBalancer Services; 0 for none

    def __post_init__(self) -> None:
        # The API server defaults targetPort to the port (SetDefaults_ServicePort): one value,
        # however the port was made.
        if not self.target_port:
            object.__setattr__(self, "target_port", str(self.port))


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: Mapping[str, str] = field(default_factory=dict)
    type: str = "ClusterIP"
    annotations: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0  # metadata.creationTimestamp; 0 when the source does not say
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = ""  # spec.clusterIP: "" when not yet allocated or unread, "None" headless


ALB_ACTIONS_ANNOTATION_PREFIX = "alb.ingress.kubernetes.io/actions."
# Extra conditions (an http-header match, say) the LBC adds to the rule of the path whose
# backend is Service <name>, port use-annotation: a JSON list in conditions.<name>.
ALB_CONDITIONS_ANNOTATION_PREFIX = "alb.ingress.kubernetes.io/conditions."
# The backend port name that tells the AWS Load Balancer Controller to build the rule's action
# from the actions.<service name> annotation instead of from a real Service.
USE_ANNOTATION_PORT = "use-annotation"


@dataclass(frozen=True)
class IngressBackend:
    """One path of an Ingress rule and the Service (and port) it sends to."""

    service: str
    port: str  # a port number as text, or a port name
    host: str = ""
    path: str = ""


@dataclass(frozen=True)
class Ingress:
    """A networking.k8s.io/v1 Ingress: its annotations and the backends its rules name."""

    namespace: str
    name: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    ingress_class: str = ""
    backends: tuple[IngressBackend, ...] = ()
    resource_version: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


# Gateway API (gateway.networking.k8s.io/v1) -----------------------------------------------------


@dataclass(frozen=True)
class BackendRef:
    """Where an HTTPRoute rule forwards (or mirrors) to: a Service and its port, by default."""

    name: str
    port: int | None = None
    namespace: str | None = None  # None: the route's own namespace
    weight: int = 1  # ignored on a mirror's backend
    kind: str = "Service"
    group: str = ""  # "" is the core group
    # Filters on the backend itself, kept as the API returned them.
    filters: tuple[Mapping[str, object], ...] = ()

    def same_target(self, other: BackendRef) -> bool:
        """The same object and port, whatever the weight."""
        return (self.name, self.port, self.namespace, self.kind, self.group) == (
            other.name,
            other.port,
            other.namespace,
            other.kind,
            other.group,
        )


@dataclass(frozen=True)
class RequestMirror:
    """A RequestMirror filter: a copy of `percent`% of the rule's requests goes to `backend`;
    the gateway drops the copy's answers."""

    backend: BackendRef
    percent: int = 100


@dataclass(frozen=True)
class HTTPRouteRule:
    backend_refs: tuple[BackendRef, ...] = ()
    mirrors: tuple[RequestMirror, ...] = ()
    # What eksup never changes, kept as the API returned it: the rule's matches, its other
    # filters (in order, mirrors after them) and the remaining fields (name, timeouts, ...).
    matches: tuple[Mapping[str, object], ...] = ()
    other_filters: tuple[Mapping[str, object], ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteParentStatus:
    """What one parent Gateway's controller says about the route (`status.parents[]`)."""

    parent: str  # namespace/name of the Gateway
    accepted: bool
    resolved_refs: bool
    observed_generation: int
    message: str = ""


@dataclass(frozen=True)
class HTTPRoute:
    namespace: str
    name: str
    rules: tuple[HTTPRouteRule, ...] = ()
    generation: int = 1
    resource_version: str = ""
    parents: tuple[RouteParentStatus, ...] = ()
