"""requirements.lock agrees with pyproject.toml: every requirement of the package, its `test` and
`sandbox` extras has a pin in the lock that its range allows, with hashes. A dependency added to
pyproject.toml without `make lock` fails here, by name, instead of in CI's install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def _pins() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text("utf-8")
    pins = {}
    for line in text.splitlines():
        found = PIN.match(line)
        if found:
            pins[canonicalize_name(found[1])] = found[2]
    assert pins, "requirements.lock pins nothing"
    return pins


def test_every_requirement_has_a_pin_its_range_allows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    extras = project["optional-dependencies"]
    pins = _pins()
    environment = default_environment()
    for line in [*project["dependencies"], *extras["test"], *extras["sandbox"]]:
        requirement = Requirement(line)
        if requirement.name == project["name"]:  # `eksup[sandbox]` inside `test`
            continue
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{line}: not in requirements.lock; run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{line}: the lock pins {pins[name]}; run `make lock`"
        )


def test_every_pin_carries_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text("utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]
