"""The plan does what its findings advise: an add-on that does not run on the next minor is
moved, before that control plane, to exactly the version the finding names; no later add-on
step moves it back; and add-on updates follow EKS's order (the control plane first, except
for such a bridge)."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.versions import KubeVersion


def _plan(minors: int) -> dict[str, object]:
    target = str(KubeVersion.parse(DEMO_VERSION) + minors)
    result = CliRunner().invoke(app, ["plan", "--sandbox", "--to", target, "--format", "json"])
    assert result.exit_code in (0, 2), result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def test_addon_advice_is_what_the_steps_do() -> None:
    plan = _plan(2)
    steps: list[dict] = plan["steps"]  # type: ignore[assignment,type-arg]
    ids = [s["id"] for s in steps]
    advised = []
    for finding in plan["findings"]:  # type: ignore[attr-defined]
        match = re.search(
            r"update (\S+) to (\S+) before the control plane goes to (\S+) ", finding["remedy"]
        )
        if match:
            advised.append(match.groups())
    assert advised, "the demo's vpc-cni needs a bridge: the test must see one"
    for addon, version, hop in advised:
        bridge = next(s for s in steps if s["id"] == f"addons-before-{hop}")
        assert ids.index(bridge["id"]) < ids.index(f"control-plane-{hop}")
        (update,) = [u for u in bridge["addon_updates"] if u["name"] == addon]
        assert update["target"] == version
        # The control plane is still on the previous minor when the bridge runs.
        assert KubeVersion.parse(bridge["params"]["version"]) + 1 == KubeVersion.parse(hop)


def test_no_addon_step_moves_an_addon_backwards() -> None:
    plan = _plan(2)
    reached: dict[str, str] = {}
    for step in plan["steps"]:  # type: ignore[attr-defined]
        for update in step.get("addon_updates", []):
            name, target = update["name"], update["target"]
            if name in reached:
                assert _key(target) > _key(reached[name]), (step["id"], name, target)
            assert update["path"][-1] == target
            reached[name] = target


def test_ordinary_addon_updates_follow_their_control_plane() -> None:
    plan = _plan(2)
    ids = [s["id"] for s in plan["steps"]]  # type: ignore[attr-defined]
    for hop in plan["hops"]:  # type: ignore[attr-defined]
        if f"addons-{hop}" in ids:
            assert ids.index(f"control-plane-{hop}") < ids.index(f"addons-{hop}")
