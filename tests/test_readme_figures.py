"""The README quotes the benchmarks' targets, not figures of its own making.

No timing is asserted here (speed is measured by `make bench`); this only keeps the README's
stated targets equal to the ones the benchmark checks and prints.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks import plan_at_scale, plan_real_path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_plan_benchmark_targets_in_the_readme_are_the_benchmarks() -> None:
    text = README.read_text(encoding="utf-8")
    quoted = re.search(
        r"planning a 5,000-node / 150,000-pod.*?\(targets: (\d+) s, (\d+) MiB", text, re.S
    )
    assert quoted is not None, "README: the plan benchmark sentence with its targets is missing"
    assert float(quoted.group(1)) == plan_at_scale.TARGET_SECONDS
    assert int(quoted.group(2)) == plan_at_scale.TARGET_MIB


def test_the_real_path_benchmark_targets_in_the_readme_are_the_benchmarks() -> None:
    text = README.read_text(encoding="utf-8")
    quoted = re.search(
        r"through the real adapters.*?\(targets: (\d+) s, (\d+) MiB", text, re.S | re.I
    )
    assert quoted is not None, "README: the real-path benchmark sentence with its targets"
    assert float(quoted.group(1)) == plan_real_path.TARGET_SECONDS
    assert int(quoted.group(2)) == plan_real_path.TARGET_MIB
