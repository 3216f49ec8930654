"""Fixtures for the engine tests: a small two-group world at 1.28 and a runner on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execute.worlds import Runner, build_world
from upgrader.sandbox.world import Sandbox


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        build_world(sandbox)
        yield sandbox


@pytest.fixture
def runner(world: Sandbox, tmp_path: Path) -> Runner:
    return Runner(world, tmp_path)
