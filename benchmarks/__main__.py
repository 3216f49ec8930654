"""`make bench`: run every benchmark and print its figures."""

from __future__ import annotations

import sys

from benchmarks import (
    drain_makespan,
    drain_real_path,
    execute_waits,
    plan_at_scale,
    plan_real_path,
)


def main() -> int:
    print("== plan on a 5,000-node / 150,000-pod sandbox cluster ==", flush=True)
    plan_at_scale.main([])
    print(
        "\n== eksup plan through the real adapters (HTTP to the sandbox servers), "
        "production-sized pods ==",
        flush=True,
    )
    plan_real_path.main([])
    print("\n== drain makespan: 100-node / 3,000-pod blue group to green ==", flush=True)
    drain_makespan.main([])
    print(
        "\n== drain through the real adapters (HTTP to the sandbox server), 3,000-pod group: "
        "re-listing vs watching ==",
        flush=True,
    )
    drain_real_path.main([])
    print(
        "\n== a whole execute run through the real adapters (HTTP to the sandbox server): "
        "its waits' requests, re-listing vs one watch scope ==",
        flush=True,
    )
    execute_waits.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
