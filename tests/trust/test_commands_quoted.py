"""Issue 12, item 1: every command eksup shows a person is safe to paste.

Names come from the cluster, and AWS allows `;$(){}` in some (an Auto Scaling group may be
called `legacy;touch${IFS}pwned;#`). Every command is built by `upgrader.core.shell`; these tests
parse each rendered line back with `shlex.split` (POSIX shell rules) and check that the hostile
name is one word, exactly, and, for lines with no placeholder left for a person, run them in
bash against stub `aws`/`kubectl` programs to prove that nothing else runs.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.plan.builders import REGION, snapshot
from upgrader.cli import app
from upgrader.core.errors import UserError
from upgrader.core.shell import command, comment, fill_command, md_text
from upgrader.plan.document import Plan, StepKind
from upgrader.plan.planner import make_plan
from upgrader.render.plan import render_markdown

HOSTILE = [
    "legacy;touch${IFS}pwned;#",
    "a'b",
    'a"b',
    "$(touch pwned)",
    "`touch pwned`",
    "x\ntouch pwned",
    "x\rtouch pwned",
    "ünïcödé-グループ",
    "-rf",
    "a b",
    "*",
    "a\\b",
    "#comment",
    "<cluster>",
    "a|b&c>d<e",
    "{name}",
    "",
]
# Words a shell could be handed: anything but NUL (no argv can hold one).
words = st.text(st.characters(exclude_characters="\x00"), max_size=30)
names = st.one_of(st.sampled_from(HOSTILE), words)
# Names a cluster can hand the planner and a plan file can hold: text with no lone surrogate
# (one reaches the planner only from a JSON `\\ud800` escape; it is refused, tested below).
cluster_names = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=30),
)


@given(st.lists(words, min_size=1, max_size=6))
def test_a_command_parses_back_to_its_argv(argv: list[str]) -> None:
    assert shlex.split(command(*argv)) == argv


@given(names)
def test_a_value_stays_one_word_in_every_quoting_context_of_a_template(value: str) -> None:
    template = (
        'aws x --name {v} --data \'{{"ImageId":"{v}"}}\' --label "pre-{v}-post" '
        "LaunchTemplateId={v},Version='$Latest' {missing}"
    )
    line = fill_command(template, {"v": value})
    assert shlex.split(line) == [
        "aws",
        "x",
        "--name",
        value,
        "--data",
        f'{{"ImageId":"{value}"}}',
        "--label",
        f"pre-{value}-post",
        f"LaunchTemplateId={value},Version=$Latest",
        "<missing>",
    ]


@given(names)
def test_a_comment_cannot_end_its_line(text: str) -> None:
    assert "\n" not in comment(text)
    assert "\r" not in comment(text)


def _plan_with(name: str) -> Plan:
    snap = snapshot(
        "1.29",
        target="1.30",
        groups=[(name, "")],
        self_managed_groups=[(f"asg-{name}", "")],
        karpenter=[(f"pool-{name}", "")],
    )
    return make_plan(snap, "1.30", region=REGION)


def _lines(plan: Plan) -> list[tuple[str, str]]:
    return [
        (step.id, line)
        for step in plan.steps
        for line in (*step.commands, *step.verification, *step.rollback)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_names.filter(bool))
def test_every_plan_command_keeps_a_hostile_name_one_word(name: str) -> None:
    plan = _plan_with(name)
    words = [w for _, line in _lines(plan) for w in shlex.split(line, comments=True)]
    # The name comes back whole wherever a command uses it: as a word, after `key=`, or inside
    # a longer word the template built around it (asg-..., a green group's name).
    assert name in words  # --nodegroup-name of the blue group it deletes
    assert f"eks.amazonaws.com/nodegroup={name}" in words
    kinds = {s.kind for s in plan.steps}
    # (The test builder derives node names from group names; a name it cannot read back
    # leaves that group unplanned, with nothing to check.)
    if StepKind.SELF_MANAGED_GROUP in kinds:
        assert f"asg-{name}" in words
    if StepKind.KARPENTER_DRIFT in kinds:
        assert f"karpenter.sh/nodepool=pool-{name}" in words
    blue_green = next(s for s in plan.steps if s.kind is StepKind.NODEGROUP_BLUE_GREEN)
    delete = next(c for c in blue_green.commands if "delete-nodegroup" in c)
    argv = shlex.split(delete, comments=True)
    assert argv[argv.index("--nodegroup-name") + 1] == name


@pytest.mark.parametrize(
    ("groups", "field"),
    [
        ({"groups": [("\ud800", "")]}, "BlueGreenParams.nodegroup '\\ud800'"),
        ({"self_managed_groups": [("asg-\udc80", "")]}, "SelfManagedParams.nodegroup"),
        ({"karpenter": [("pool-\udfff", "")]}, "KarpenterParams.nodegroup"),
    ],
)
def test_a_name_no_plan_file_can_hold_is_refused_in_one_line(
    groups: dict[str, list[tuple[str, str]]], field: str
) -> None:
    snap = snapshot("1.29", target="1.30", **groups)  # type: ignore[arg-type]
    with pytest.raises(UserError) as refused:
        make_plan(snap, "1.30", region=REGION)
    message = str(refused.value)
    assert message.startswith("cluster 'prod' cannot be planned: ")
    assert field in message
    assert "\n" not in message
    message.encode("utf-8")  # the message itself prints: the name is shown escaped


def _stub_tools(bin_dir: Path, calls: Path) -> None:
    """`aws`, `kubectl` and `eksup` that only record their argv: one file per call in
    `calls`, NUL-terminated words (a sh script: hundreds of calls must stay fast)."""
    where = shlex.quote(str(calls))
    script = f'#!/bin/sh\nprintf \'%s\\0\' "$@" > "$(mktemp -p {where})"\n'
    for tool in ("aws", "kubectl", "eksup"):
        path = bin_dir / tool
        path.write_text(script)
        path.chmod(0o755)


@pytest.mark.parametrize("name", HOSTILE[:6])
def test_pasting_the_plans_commands_runs_nothing_else(name: str, tmp_path: Path) -> None:
    bin_dir, log, work = tmp_path / "bin", tmp_path / "calls", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    log.mkdir()
    _stub_tools(bin_dir, log)
    plan = _plan_with(name)
    pasted = [line for _, line in _lines(plan) if "<" not in line and not line.startswith("#")]
    assert pasted
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(work)}
    named = 0
    for line in pasted:
        for old in log.iterdir():
            old.unlink()
        subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", line],
            cwd=work,
            env=env,
            check=False,
            capture_output=True,
            timeout=30,
        )
        calls = [f.read_text().split("\0")[:-1] for f in log.iterdir()]
        if "$(kubectl get nodepool" in line:  # eksup's own lookup of a pool's node class
            assert len(calls) == 2, line
            continue
        # One call per line, with the line's own argv: nothing chained, nothing split.
        assert calls == [shlex.split(line, comments=True)[1:]], line
        named += any(name in word for word in calls[0])
    assert list(work.iterdir()) == []  # no `pwned`, nothing written
    assert named


def test_plan_markdown_escapes_what_github_reads_as_html() -> None:
    plan = _plan_with("<img src=x onerror=alert(1)>")
    text = render_markdown(plan)
    prose = []
    fence = ""
    for line in text.splitlines():
        if line.startswith("```"):
            fence = "" if fence else line
            continue
        if not fence:  # code spans show their content as text on GitHub: not prose
            prose.append(re.sub(r"(`+)(.+?)\1", "", line))
    assert "<img" not in "\n".join(prose)
    assert "&lt;img src=x onerror=alert(1)>" in text
    assert md_text("<cluster> & co &lt;") == "&lt;cluster> & co &amp;lt;"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout


def test_runbook_render_keeps_placeholders_visible_on_github() -> None:
    code, text = _run("runbook", "render", "eks-upgrade-blue-green")
    assert code == 0
    # In prose, as entities (GitHub drops an unknown <cluster> tag); in code, as typed.
    assert "live cluster &lt;cluster>" in text
    assert "--name <cluster>" in text


def test_runbook_show_keeps_placeholders_on_the_terminal() -> None:
    code, text = _run("runbook", "show", "eks-upgrade-blue-green")
    assert code == 0
    assert "live cluster <cluster>" in " ".join(text.split())
