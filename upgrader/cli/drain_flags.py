"""Part of the CLI (it may import the sandbox's selector grammar): the kubectl-drain flags of
`eksup execute`, checked once: a bad one is a usage error before anything is read from the
cluster."""

from __future__ import annotations

from typing import Any

from upgrader.core.errors import UserError


def drain_flags(
    skip_wait_for_delete_timeout: int, disable_eviction: bool, pod_selector: str | None
) -> dict[str, Any]:
    """ExecuteOptions fields for --skip-wait-for-delete-timeout, --disable-eviction and
    --pod-selector (whose syntax is kubectl's `-l`, checked here)."""
    if skip_wait_for_delete_timeout < 0:
        raise UserError("--skip-wait-for-delete-timeout must be 0 (wait) or more seconds")
    if pod_selector is not None:
        # The same grammar the API server accepts; a typo must not drain everything.
        from upgrader.core.label_selector import parse_label_selector

        if not pod_selector.strip():
            raise UserError("--pod-selector is empty: give a label selector, e.g. app=web")
        parse_label_selector(pod_selector)
    return {
        "skip_wait_for_delete_timeout_seconds": skip_wait_for_delete_timeout,
        "disable_eviction": disable_eviction,
        "pod_selector": pod_selector,
    }
