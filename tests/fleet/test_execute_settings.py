"""fleet.yaml's execute options: validated with file:line errors, merged (the fleet's defaults,
then the cluster's own), frozen into the run, and handed to each cluster's execute."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.usecases.fleet.builders import FLEET, make_run
from upgrader.core.errors import UserError
from upgrader.fleet.render import execute_flags
from upgrader.fleet.spec_file import load_fleet_spec
from upgrader.usecases.fleet.leaf import execute_options

GOOD = FLEET.replace("{allowed}", "1")
DEV_B = '  - {name: dev-b, account: "222222222222", region: eu-west-1, labels: {env: dev}, '
WITH_SETTINGS = GOOD.replace(
    'target: "1.31"\n',
    'target: "1.31"\nexecute: {deleteEmptydirData: true, drainTimeout: 30m}\n',
).replace(
    DEV_B + "upstream: mgmt}",
    DEV_B + "upstream: mgmt,\n     execute: {force: true, podSelector: 'app in (web)', "
    "drainTimeout: 1h, gracePeriod: 30}}",
)


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    return load_fleet_spec(path)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("podSelector: 'app in (web)'", "podSelector: 'app in web'"), ":8: clusters.2.execute"),
        (("force: true", "disableEviction: true"), ":8: clusters.2.execute.disableEviction"),
        (("drainTimeout: 1h", "drainTimeout: soon"), ":8: clusters.2.execute.drainTimeout"),
        (("drainTimeout: 30m", "drainTimeout: -5"), ":3: execute.drainTimeout"),
    ],
)
def test_bad_execute_options_name_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    with pytest.raises(UserError) as error:
        _load(tmp_path, WITH_SETTINGS.replace(*change))
    assert str(error.value).startswith(str(tmp_path / "fleet.yaml") + expected), str(error.value)


def test_a_cluster_overrides_the_fleet_defaults_field_by_field(tmp_path: Path) -> None:
    spec = _load(tmp_path, WITH_SETTINGS)
    dev_b = spec.execute_settings("dev-b")  # type: ignore[attr-defined]
    assert (dev_b.force, dev_b.delete_emptydir_data, dev_b.drain_timeout) == (True, True, 3600)
    assert dev_b.pod_selector == "app in (web)"
    dev_a = spec.execute_settings("dev-a")  # type: ignore[attr-defined]
    assert (dev_a.force, dev_a.delete_emptydir_data, dev_a.drain_timeout) == (False, True, 1800)
    assert _load(tmp_path, GOOD).execute_settings("dev-a") is None  # type: ignore[attr-defined]


def test_the_run_carries_them_into_each_clusters_execute_options(tmp_path: Path) -> None:
    run, _ = make_run(tmp_path, WITH_SETTINGS)
    spec = load_fleet_spec(tmp_path / "fleet.yaml")
    run = run.model_copy(
        update={
            "clusters": [
                c.model_copy(update={"execute": spec.execute_settings(c.name)})
                for c in run.clusters
            ]
        }
    )
    options = execute_options(run, run.cluster("dev-b"))
    assert (options.resume, options.yes, options.force, options.delete_emptydir_data) == (
        True,
        True,
        True,
        True,
    )
    assert (options.pod_selector, options.grace_period_seconds) == ("app in (web)", 30)
    assert not options.disable_eviction
    plain = execute_options(run, run.cluster("mgmt"))
    assert (plain.force, plain.delete_emptydir_data) == (False, True)
    shown = execute_flags(run.cluster("dev-b").execute)  # type: ignore[arg-type]
    assert "--force --delete-emptydir-data --pod-selector 'app in (web)'" in shown
    assert "drain timeout 3600s, planned" in shown
    assert run.model_validate_json(run.to_json()).cluster("dev-b").execute == spec.execute_settings(
        "dev-b"
    )
