"""moto's EKS extension: the EKS calls and behaviour moto lacks."""
