"""Services on the sandbox server, as kubectl sees them on a real cluster: their ports, a
cluster IP of their own, `kubectl get svc` columns, `describe svc`, and create / apply / patch
/ delete.

What the API server does and the sandbox follows:
- Defaults (k8s.io/kubernetes pkg/apis/core/v1/defaults.go SetDefaults_Service and
  SetDefaults_ServicePort): type ClusterIP, protocol TCP, targetPort = port, sessionAffinity
  None; a NodePort or LoadBalancer port gets a node port from 30000-32767.
- Validation (pkg/apis/core/validation/validation.go ValidateService): every port needs
  1-65535; with more than one port each needs a name; a port and protocol appear once.
- A cluster IP from the service CIDR, one per Service (pkg/registry/core/service/ipallocator).
  EKS picks 172.20.0.0/16 when the VPC is in 10.0.0.0/8, as the sandbox's is (EKS user guide,
  "kubernetesNetworkConfig"/serviceIpv4Cidr); `clusterIP: None` is a headless Service.
- The printed columns: pkg/printers/internalversion/printers.go, serviceColumnDefinitions and
  printService (CLUSTER-IP is clusterIPs[0]; EXTERNAL-IP `<none>` for ClusterIP and NodePort,
  the load balancer's address or `<pending>` for LoadBalancer, externalName for ExternalName;
  PORT(S) `80/TCP` or `80:30080/TCP`, `<none>` without ports).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import wire as codec
from upgrader.core.errors import ConflictError
from upgrader.core.kube import Service, ServicePort
from upgrader.sandbox.apiserver import objects, patches, tables
from upgrader.sandbox.apiserver.http import HttpError, Request, Response, json_response
from upgrader.sandbox.apiserver.selectors import page_of
from upgrader.sandbox.apiserver.stores import InvalidServiceError

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
# ExternalName Services route to no pods and carry no cluster IP; the Service model has no
# externalName to keep, so the sandbox refuses them rather than drop the name.
TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
_NODE_PORTS = range(30000, 32768)


def _invalid(name: str, error: InvalidServiceError) -> HttpError:
    """422 Invalid as the API server words it, with the field as a cause: kubectl prints
    `The Service "x" is invalid: spec.ports[0].name: Required value`."""
    field, _, detail = str(error).partition(": ")
    details = {
        "name": name,
        "kind": "Service",
        "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
    }
    return HttpError(422, "Invalid", f'Service "{name}" is invalid: {error}', details)


def _free_node_port(name: str, used: set[int]) -> int:
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")
    for step in range(len(_NODE_PORTS)):
        port = _NODE_PORTS[(start + step) % len(_NODE_PORTS)]
        if port not in used:
            return port
    raise InvalidServiceError("spec.ports: Internal error: no free node port")


# -- reading a manifest --------------------------------------------------------------------------


def _port(wire: Mapping[str, Any], index: int, *, many: bool) -> ServicePort:
    field = f"spec.ports[{index}]"
    try:
        number = int(wire.get("port") or 0)
        node_port = int(wire.get("nodePort") or 0)
    except (TypeError, ValueError) as e:
        raise InvalidServiceError(f"{field}.port: Invalid value: {e}") from e
    if not 1 <= number <= 65535:
        raise InvalidServiceError(
            f"{field}.port: Invalid value: {number}: must be between 1 and 65535, inclusive"
        )
    name = str(wire.get("name") or "")
    if many and not name:
        raise InvalidServiceError(f"{field}.name: Required value")
    # Checked; then read as the Kubernetes adapter reads a Service's port (one decoder).
    return codec.service_port({**wire, "port": number, "nodePort": node_port})


def parse_service(body: Mapping[str, Any], namespace: str) -> Service:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    kind = str(spec.get("type") or "ClusterIP")
    if kind not in TYPES:
        raise InvalidServiceError(
            f'spec.type: Unsupported value: "{kind}": supported values: '
            + ", ".join(f'"{t}"' for t in TYPES)
        )
    wires = spec.get("ports") or []
    ports = tuple(_port(p, i, many=len(wires) > 1) for i, p in enumerate(wires))
    seen: set[tuple[int, str]] = set()
    for i, p in enumerate(ports):
        if (p.port, p.protocol) in seen:
            raise InvalidServiceError(
                f'spec.ports[{i}]: Duplicate value: {{"port":{p.port},"protocol":"{p.protocol}"}}'
            )
        seen.add((p.port, p.protocol))
    if kind == "ClusterIP":
        ports = tuple(replace(p, node_port=0) for p in ports)
    return Service(
        namespace=namespace,
        name=str(meta.get("name") or ""),
        selector={str(k): str(v) for k, v in (spec.get("selector") or {}).items()},
        type=kind,
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
        ports=ports,
        cluster_ip=str(spec.get("clusterIP") or ""),
    )


def _with_node_ports(service: Service, taken: Sequence[Service]) -> Service:
    if service.type not in ("NodePort", "LoadBalancer"):
        return service
    used = {
        p.node_port
        for s in taken
        if (s.namespace, s.name) != (service.namespace, service.name)
        for p in s.ports
    }
    ports: list[ServicePort] = []
    for given in service.ports:
        if given.node_port and given.node_port in used:
            raise InvalidServiceError(
                f"spec.ports[{len(ports)}].nodePort: Invalid value: {given.node_port}: provided "
                "port is already allocated"
            )
        port = given
        if not port.node_port:
            port = replace(port, node_port=_free_node_port(f"{service.name}/{port.port}", used))
        used.add(port.node_port)
        ports.append(port)
    return replace(service, ports=tuple(ports))


# -- the object as the API shows it --------------------------------------------------------------


def _port_wire(port: ServicePort) -> Json:
    wire: Json = {"protocol": port.protocol, "port": port.port}
    if port.name:
        wire = {"name": port.name, **wire}
    target = port.target_port or str(port.port)
    wire["targetPort"] = int(target) if target.isdigit() else target
    if port.node_port:
        wire["nodePort"] = port.node_port
    return wire


def service_json(api: ApiState, service: Service) -> Json:
    spec: Json = {"type": service.type}
    if service.ports:
        spec["ports"] = [_port_wire(p) for p in service.ports]
    if service.selector:
        spec["selector"] = dict(service.selector)
    ip = api.addresses.cluster_ip(service, api.cluster.list_services())
    spec.update(
        clusterIP=ip,
        clusterIPs=[ip],
        ipFamilies=["IPv4"],
        ipFamilyPolicy="SingleStack",
        internalTrafficPolicy="Cluster",
    )
    spec["sessionAffinity"] = "None"
    if service.type in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = "Cluster"
    wire = objects.service(service, api.created_at)
    wire["spec"] = spec
    wire["status"] = {"loadBalancer": {}}
    return wire


def _external_ip(service: Service) -> str:
    if service.type == "LoadBalancer":
        return "<pending>"  # no load balancer controller gives the sandbox's Services one
    return "<none>"


def _ports_text(service: Service) -> str:
    return (
        ",".join(
            f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port else f"{p.port}/{p.protocol}"
            for p in service.ports
        )
        or "<none>"
    )


def service_table(api: ApiState, services: Sequence[Service], cont: str) -> Json:
    now = api.now()
    columns = [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]
    rows = []
    for s in services:
        wire = service_json(api, s)
        selector = ",".join(f"{k}={v}" for k, v in sorted(s.selector.items())) or "<none>"
        cells = [
            s.name,
            s.type,
            wire["spec"].get("clusterIP") or "<none>",
            _external_ip(s),
            _ports_text(s),
            tables.age(now - (s.created_at or api.created_at)),
            selector,
        ]
        rows.append((cells, wire))
    return tables.table(columns, rows, cont)


# -- routes --------------------------------------------------------------------------------------


def list_services(api: ApiState, request: Request, args: Sequence[str]) -> Response:

    services = api.cluster.list_services(args[0] if args else None)
    chosen, cont = page_of(services, request)
    if request.wants_table:
        return json_response(200, service_table(api, chosen, cont))
    wire = (service_json(api, s) for s in chosen)
    return json_response(200, objects.object_list("ServiceList", "v1", wire, cont))


def get_service(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    service = api.cluster.get_service(args[0], args[1])
    if request.wants_table:
        return json_response(200, service_table(api, [service], ""))
    return json_response(200, service_json(api, service))


def create_service(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    body = request.json()
    name = str((body.get("metadata") or {}).get("name") or "")
    try:
        if not name:
            raise InvalidServiceError("metadata.name: Required value")
        service = parse_service(body, args[0])
        with api.write_lock:
            taken = api.cluster.list_services()
            if any((s.namespace, s.name) == (args[0], name) for s in taken):
                raise ConflictError(f'services "{name}" already exists')
            service = _with_cluster_ip(api, service, taken)
            service = _with_node_ports(service, taken)
            api.cluster.add_service(service)
            stored = api.cluster.get_service(args[0], name)
    except InvalidServiceError as e:
        raise _invalid(name, e) from e
    return json_response(201, service_json(api, stored))


def _with_cluster_ip(api: ApiState, service: Service, taken: Sequence[Service]) -> Service:
    if service.cluster_ip == "None":
        return service
    if service.cluster_ip:
        owners = {s.cluster_ip: s.name for s in taken} | {
            api.addresses.cluster_ip(s, taken): s.name for s in taken
        }
        if service.cluster_ip in owners:
            raise InvalidServiceError(
                f'spec.clusterIPs: Invalid value: []string{{"{service.cluster_ip}"}}: failed '
                f"to allocate IP {service.cluster_ip}: provided IP is already allocated"
            )
        return service
    return replace(service, cluster_ip=api.addresses.new_cluster_ip(service, taken))


def patch_service(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    """A merge or strategic merge patch of the whole object (`kubectl patch`, a second
    `kubectl apply`); the fields the sandbox keeps are read back from the result. The cluster
    IP cannot change (spec.clusterIPs is immutable). A change of the selector alone goes
    through the FakeCluster's selector patch, the write the traffic routers make."""
    namespace, name = args
    try:
        with api.write_lock:
            current = api.cluster.get_service(namespace, name)
            live = service_json(api, current)
            patched = patches.apply_patch(live, request.json(), request.content_type)
            updated = parse_service(patched, namespace)
            ip = live["spec"].get("clusterIP", "")
            if updated.cluster_ip and updated.cluster_ip != ip:
                raise InvalidServiceError("spec.clusterIPs[0]: Invalid value: field is immutable")
            updated = replace(updated, name=name, cluster_ip=ip, created_at=current.created_at)
            updated = _with_node_ports(updated, api.cluster.list_services())
            if updated == replace(current, cluster_ip=ip, selector=updated.selector):
                stored = api.cluster.patch_service_selector(namespace, name, updated.selector)
            else:
                api.cluster.add_service(updated)
                stored = api.cluster.get_service(namespace, name)
    except InvalidServiceError as e:
        raise _invalid(name, e) from e
    return json_response(200, service_json(api, stored))


def delete_service(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    api.cluster.delete_service(args[0], args[1])
    return json_response(200, objects.status(200, "Success", f'service "{args[1]}" deleted'))


SERVICE_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/services", list_services),
    ("GET", "/api/v1/namespaces/{ns}/services", list_services),
    ("GET", "/api/v1/namespaces/{ns}/services/{name}", get_service),
    ("POST", "/api/v1/namespaces/{ns}/services", create_service),
    ("PATCH", "/api/v1/namespaces/{ns}/services/{name}", patch_service),
    ("DELETE", "/api/v1/namespaces/{ns}/services/{name}", delete_service),
]
