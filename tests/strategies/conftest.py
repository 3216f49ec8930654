"""Fixtures for the rollout tests; the world they build lives in `world.py`."""

from tests.strategies.world import _shared, alb, aws, clock, cluster, shared, zone

__all__ = ["_shared", "alb", "aws", "clock", "cluster", "shared", "zone"]
