"""fleet.yaml: every mistake is one line `file:line: field: message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.usecases.fleet.builders import FLEET
from upgrader.core.errors import UserError
from upgrader.fleet.spec import Window, allowance_of, concurrency_of
from upgrader.fleet.spec_file import load_fleet_spec
from upgrader.fleet.windows import is_open, next_open

GOOD = FLEET.replace("{allowed}", '"10%"')


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    return load_fleet_spec(path)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("maxConcurrency: 2", "maxConcurency: 2"), ":14: stages.1.maxConcurency: Extra inputs"),
        (
            ("maxConcurrency: 2", "maxConcurrency: lots"),
            ":14: stages.1.maxConcurrency: Value error, 'lots'",
        ),
        (
            ("upstream: mgmt}\n  - {name: dev-c", "upstream: nope}\n  - {name: dev-c"),
            ":6: clusters.2.upstream: no cluster named nope",
        ),
        (
            ("selector: env=prod", "selector: env=nothing"),
            ":18: stages.2.selector: selects no cluster",
        ),
        (
            ("afterStageWait: 2h", "afterStageWait: soon"),
            ":16: stages.1.afterStageWait: Value error",
        ),
        (
            ('account: "111111111111"', 'account: "111"'),
            ":4: clusters.0.account: String should match",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    with pytest.raises(UserError) as error:
        _load(tmp_path, GOOD.replace(*change))
    assert str(error.value).startswith(str(tmp_path / "fleet.yaml") + expected), str(error.value)


def test_cluster_in_no_stage_and_upstream_after_downstream_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="prod is in no stage"):
        _load(tmp_path, GOOD.replace("  - name: prod\n    selector: env=prod\n", ""))
    reordered = GOOD.replace("selector: env=mgmt", "selector: env=prod").replace(
        "  - name: prod\n    selector: env=prod", "  - name: prod\n    selector: env=mgmt"
    )
    with pytest.raises(UserError, match="its upstream mgmt is in stage prod"):
        _load(tmp_path, reordered)


def test_bad_timezone_and_cycle(tmp_path: Path) -> None:
    text = GOOD.replace(
        "selector: env=prod",
        "selector: env=prod\n    window: {start: '02:00', end: '04:00', timezone: Mars/Base}",
    )
    with pytest.raises(UserError, match="not an IANA time zone"):
        _load(tmp_path, text)
    cyclic = GOOD.replace("labels: {env: mgmt}}", "labels: {env: mgmt}, upstream: dev-a}")
    with pytest.raises(UserError, match="cycle"):
        _load(tmp_path, cyclic)


def test_quantities_resolve_like_azure() -> None:
    assert concurrency_of("25%", 3, 1) == 1  # floor, at least 1
    assert concurrency_of("50%", 10, 1) == 5
    assert concurrency_of(None, 4, 1) == 1
    assert allowance_of("10%", 3) == 1  # ceiling
    assert allowance_of(None, 3) == 0


def test_groups_split_a_stage_and_every_member_has_one_group(tmp_path: Path) -> None:
    text = GOOD.replace("labels: {env: dev}", "labels: {env: dev, tier: x}").replace(
        "    selector: env=dev\n",
        "    selector: env=dev\n    groups:\n      - {name: a, selector: 'tier in (x)'}\n"
        "      - {name: b, selector: '!tier', maxConcurrency: 2}\n",
    )
    with pytest.raises(UserError, match=r"stages.1.groups.1.selector: selects no cluster"):
        _load(tmp_path, text)
    with pytest.raises(UserError, match=r"groups\.1\.selector: cluster dev-a is also in group a"):
        _load(tmp_path, text.replace("'!tier'", "'tier=x'"))


def test_windows_use_local_time_and_cross_midnight() -> None:
    window = Window(days=("fri",), start="22:00", end="02:00", timezone="Europe/Paris")  # type: ignore[arg-type]
    friday_2330_paris = 1767392999.0 - 3600 * 0  # 2026-01-02 22:29:59 UTC = 23:29:59 Paris (Fri)
    assert is_open(window, friday_2330_paris)
    saturday_0030_paris = 1767396600.0  # 2026-01-02 23:30 UTC = Sat 00:30 Paris
    assert is_open(window, saturday_0030_paris)
    thursday = 1767225600.0  # 2026-01-01 00:00 UTC, Thursday
    assert not is_open(window, thursday)
    assert next_open(window, thursday) == 1767387600.0  # Fri 22:00 Paris = 21:00 UTC
