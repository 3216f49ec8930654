"""Suite-wide test settings."""

from __future__ import annotations

from hypothesis import settings

# `make mutate` runs each test hundreds of times on a loaded machine: a per-example deadline
# would fail a test for being slow, not wrong, and random examples would make a mutant's fate
# differ between runs. Selected with --hypothesis-profile=mutate (pyproject's [tool.mutmut]).
settings.register_profile("mutate", deadline=None, derandomize=True, print_blob=False)
