"""`router_for` builds the `TrafficRouter` a spec names (the `NopRouter` when it names none)
and refuses the pairs that cannot work, with the reason and what to use instead. `provider_for`
and `route_for` build one part of a service's router: its weights, or its header/mirror route."""

from __future__ import annotations

from strategies.spec import (
    COMPUTE_STRATEGIES,
    AbTest,
    AlbIngressTraffic,
    AlbTraffic,
    GatewayTraffic,
    NoTraffic,
    RolloutSpec,
    Route53Traffic,
    ServiceTraffic,
    Shadow,
)
from strategies.traffic.alb import AlbProvider
from strategies.traffic.base import (
    HEADER_ADVICE,
    MIRROR_ADVICE,
    SwitchRoute,
    TrafficProvider,
    TrafficRouter,
)
from strategies.traffic.nop import NopRouter
from strategies.traffic.route53 import Route53Provider
from strategies.traffic.router import ServiceRouter
from upgrader.core.errors import UserError
from upgrader.core.ports import Clock, Cluster, Dns, LoadBalancers

# Why a provider cannot mirror (shadow); a provider missing here cannot either.
_NO_MIRROR = {
    "alb-elbv2": f"ALB cannot mirror traffic; {MIRROR_ADVICE}",
    "route53": (
        "Route 53 answers each DNS query with one record, so it cannot copy a request to two "
        f"sides; {MIRROR_ADVICE}"
    ),
}
# Why a provider cannot route by header (A/B).
_NO_HEADER = {
    "route53": (
        f"Route 53 never sees HTTP headers or cookies, so it cannot route by them; {HEADER_ADVICE}"
    ),
}


def refusal(spec: RolloutSpec) -> str | None:
    """Why this strategy cannot run on this traffic provider, or None when it can."""
    strategy, traffic, provider = spec.strategy, spec.traffic, spec.traffic.provider
    if isinstance(strategy, COMPUTE_STRATEGIES):
        if isinstance(traffic, NoTraffic):
            return None
        return (
            f"{strategy.kind} moves pods, not traffic weights: traffic follows the Ready pods "
            "through the Service both Deployments share; leave traffic out (provider: none)"
        )
    if isinstance(traffic, NoTraffic):
        return (
            f"{strategy.kind} moves traffic: give a traffic provider (alb-elbv2, alb-ingress, "
            "route53, service or gateway-api)"
        )
    # Providers that move traffic through Kubernetes objects keep their reasons with them.
    if isinstance(traffic, AlbIngressTraffic):
        from strategies.traffic.ingress_lbc import ingress_refusal

        return ingress_refusal(spec)
    if isinstance(traffic, ServiceTraffic):
        from strategies.traffic.service import service_refusal

        return service_refusal(spec)
    if isinstance(strategy, Shadow) and provider != "gateway-api":
        return _NO_MIRROR.get(
            provider, f"{provider} cannot copy a request to two sides; {MIRROR_ADVICE}"
        )
    if isinstance(strategy, AbTest) and provider not in ("alb-elbv2", "gateway-api"):
        return _NO_HEADER.get(
            provider, f"{provider} does not route by HTTP header or cookie; {HEADER_ADVICE}"
        )
    return None


def no_switch(spec: RolloutSpec) -> str:
    """Why there is no traffic to move back for a rolling or recreate spec."""
    return (
        f"{spec.strategy.kind} has no traffic switch (provider: none): traffic follows the "
        "pods, so scale the Deployments instead (stable back up, candidate to 0)"
    )


def provider_for(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    dns: Dns,
    clock: Clock,
    cluster: Cluster | None = None,
) -> TrafficProvider:
    """The provider the spec names; raises UserError for a pair that cannot work.

    `cluster` is needed by the providers that move traffic through Kubernetes objects."""
    reason = refusal(spec)
    if reason is not None:
        raise UserError(f"{spec.strategy.kind} on {spec.traffic.provider}: {reason}")
    if isinstance(spec.strategy, Shadow | AbTest):
        raise UserError(_moves_no_weights(spec))
    return _weights_part(spec, load_balancers=load_balancers, dns=dns, clock=clock, cluster=cluster)


def _moves_no_weights(spec: RolloutSpec) -> str:
    return (
        f"the {spec.strategy.kind} strategy routes or mirrors requests rather than moving "
        "weights: `eksup rollout run` starts it and `eksup rollout abort` ends it"
    )


def _weights_part(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    dns: Dns | None,
    clock: Clock,
    cluster: Cluster | None,
) -> TrafficProvider:
    if isinstance(spec.traffic, AlbIngressTraffic | ServiceTraffic):
        if cluster is None:
            raise UserError(
                f"traffic provider {spec.traffic.provider} works through the Kubernetes API: "
                "it needs a cluster (kubeconfig context)"
            )
        if isinstance(spec.traffic, AlbIngressTraffic):
            from strategies.traffic.ingress_lbc import AlbIngressProvider

            return AlbIngressProvider(
                cluster,
                load_balancers,
                clock,
                spec.app.namespace,
                spec.traffic,
                converge_seconds=spec.deadlines.converge_seconds,
            )
        from strategies.traffic.service import service_provider

        return service_provider(spec, cluster=cluster, clock=clock)
    if isinstance(spec.traffic, AlbTraffic):
        return AlbProvider(load_balancers, spec.traffic)
    if isinstance(spec.traffic, GatewayTraffic):
        from strategies.traffic.gateway import GatewayWeightsProvider

        if cluster is None:
            raise UserError("gateway-api traffic changes an HTTPRoute: it needs a cluster")
        return GatewayWeightsProvider(
            cluster, clock, spec.traffic, spec.app.namespace, spec.deadlines.converge_seconds
        )
    if isinstance(spec.traffic, NoTraffic):
        raise UserError(no_switch(spec))
    assert isinstance(spec.traffic, Route53Traffic)
    if dns is None:
        raise UserError("route53 traffic changes Route 53 records: it needs the Route 53 API")
    return Route53Provider(dns, clock, spec.traffic, spec.deadlines.converge_seconds)


def route_for(
    spec: RolloutSpec, *, load_balancers: LoadBalancers, cluster: Cluster | None
) -> SwitchRoute:
    """The route an A/B or shadow spec names; refuses the pairs that cannot work."""
    from strategies.traffic.alb_header import HeaderRoute
    from strategies.traffic.gateway import MirrorRoute
    from strategies.traffic.gateway_header import HeaderMatchRoute

    reason = refusal(spec)
    if reason is not None:
        raise UserError(f"{spec.strategy.kind} on {spec.traffic.provider}: {reason}")
    strategy, traffic = spec.strategy, spec.traffic
    if isinstance(strategy, AbTest) and isinstance(traffic, AlbTraffic):
        return HeaderRoute(load_balancers, traffic, strategy)
    if isinstance(strategy, AbTest) and isinstance(traffic, AlbIngressTraffic):
        from strategies.traffic.ingress_lbc_header import IngressHeaderRoute

        if cluster is None:
            raise UserError("ab on alb-ingress changes an Ingress: it needs a cluster")
        return IngressHeaderRoute(cluster, load_balancers, traffic, strategy, spec.app.namespace)
    if isinstance(traffic, GatewayTraffic):
        if cluster is None:
            raise UserError(
                f"{strategy.kind} on gateway-api changes an HTTPRoute: it needs a cluster"
            )
        if isinstance(strategy, Shadow):
            return MirrorRoute(cluster, traffic, strategy, spec.app.namespace)
        if isinstance(strategy, AbTest):
            return HeaderMatchRoute(cluster, traffic, strategy, spec.app.namespace)
    raise UserError(f"{strategy.kind} on {traffic.provider} is not implemented yet")


def router_for(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    clock: Clock,
    dns: Dns | None = None,
    cluster: Cluster | None = None,
) -> TrafficRouter:
    """The router the spec names, with the parts its strategy drives: weights for canary and
    blue/green, the header route for A/B, the mirror for shadow, nothing for rolling and
    recreate (the `NopRouter`). Raises UserError for a pair that cannot work."""
    reason = refusal(spec)
    if reason is not None:
        raise UserError(f"{spec.strategy.kind} on {spec.traffic.provider}: {reason}")
    strategy, provider = spec.strategy, spec.traffic.provider
    if isinstance(spec.traffic, NoTraffic):
        return NopRouter(no_switch(spec))
    cannot: dict[str, str] = {}
    weights = header = mirror = None
    if isinstance(strategy, AbTest | Shadow):
        cannot["weights"] = _moves_no_weights(spec)
    else:
        weights = _weights_part(
            spec, load_balancers=load_balancers, dns=dns, clock=clock, cluster=cluster
        )
    if isinstance(strategy, AbTest):
        header = route_for(spec, load_balancers=load_balancers, cluster=cluster)
    else:
        cannot["header"] = _NO_HEADER.get(provider, f"the {strategy.kind} spec routes no header")
    if isinstance(strategy, Shadow):
        mirror = route_for(spec, load_balancers=load_balancers, cluster=cluster)
    else:
        cannot["mirror"] = _NO_MIRROR.get(provider, f"the {strategy.kind} spec mirrors nothing")
    return ServiceRouter(provider, weights, header, mirror, cannot)
