"""`--sandbox` or not: the one place a command's target is chosen.

The real target is the use cases' (`upgrader.usecases.targets`); the sandbox's is the demo
layer's (`upgrader.demo.targets`), imported only when `--sandbox` is given. A use case that
opens a target itself (`eksup status`) is handed `open_target`, so it never imports the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from upgrader.usecases.targets import Target


@contextmanager
def open_target(
    cluster: str | None,
    *,
    region: str | None,
    profile: str | None,
    context: str | None,
    sandbox: bool,
) -> Iterator[Target]:
    if sandbox:
        from upgrader.demo.targets import open_sandbox_target

        with open_sandbox_target(cluster) as target:
            yield target
        return
    from upgrader.usecases.targets import open_real_target

    with open_real_target(cluster, region=region, profile=profile, context=context) as target:
        yield target
