"""Settings used by more than one layer (config, planner, steps, drain), each defined once.

The drain timeout used to have four defaults (900 s in three places, 1800 s in the drain) and
its precedence was written out at each use; both live here now.
"""

from __future__ import annotations

# Seconds a node may take to drain. 900 s is what an EKS managed node group update allows a node
# before it fails with PodEvictionFailure, so a plan made with the default behaves like EKS.
DEFAULT_DRAIN_TIMEOUT_SECONDS = 900

# A pod that has not been seen starting (no ready time to learn from) is assumed to take a
# minute: most web services are Ready in seconds, JVMs and caches in tens of seconds. Used by
# the plan's drain estimate and the drain's own progress estimate alike.
ASSUMED_STARTUP_SECONDS = 60.0


def drain_timeout(override: float | None, default: float) -> float:
    """The one precedence rule: a person's `--drain-timeout` beats the plan's or config's value."""
    return default if override is None else override
