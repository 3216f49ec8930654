"""Traffic routers, one module per service (ALB, Ingress/LBC, Route 53, Service, Gateway API)."""
