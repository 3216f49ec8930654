"""A rollout run's lock, its state ConfigMap and its report."""
