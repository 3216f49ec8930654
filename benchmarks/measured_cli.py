"""Run the eksup CLI and write its own peak resident set size to a file when it exits.

A child's `ru_maxrss` (what `wait4` reports) on Linux includes the resident size it had between
fork and exec, that is the benchmark's own (a whole simulated cluster); VmHWM in
/proc/self/status is the high-water mark of the exec'd image alone: eksup's.
Usage: `python -m benchmarks.measured_cli HWM_FILE eksup-args...`.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path


def _write_peak(path: Path) -> None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            path.write_text(line.split()[1])  # kB
            return


def main() -> None:
    out = Path(sys.argv[1])
    atexit.register(_write_peak, out)
    sys.argv = ["eksup", *sys.argv[2:]]
    from upgrader.cli import main as eksup

    eksup()


if __name__ == "__main__":
    main()
