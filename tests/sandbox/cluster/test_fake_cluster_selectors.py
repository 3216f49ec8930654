"""Label-selector strings as the fake cluster parses them (apimachinery's `labels.Parse`)."""

from __future__ import annotations

import pytest

from upgrader.core.errors import UserError
from upgrader.core.kube import LabelSelector, SelectorRequirement
from upgrader.core.label_selector import LabelSelectorError, parse_label_selector

LABELS = {"app": "web", "tier": "front", "version": "7"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", LabelSelector()),
        ("app=web", LabelSelector({"app": "web"})),
        ("app==web, tier = front", LabelSelector({"app": "web", "tier": "front"})),
        ("app!=web", LabelSelector({}, (SelectorRequirement("app", "NotIn", ("web",)),))),
        (
            "tier in (front, back),env notin (prod)",
            LabelSelector(
                {},
                (
                    SelectorRequirement("tier", "In", ("front", "back")),
                    SelectorRequirement("env", "NotIn", ("prod",)),
                ),
            ),
        ),
        (
            "app,!legacy",
            LabelSelector(
                {},
                (
                    SelectorRequirement("app", "Exists"),
                    SelectorRequirement("legacy", "DoesNotExist"),
                ),
            ),
        ),
        ("version>5", LabelSelector({}, (SelectorRequirement("version", "Gt", ("5",)),))),
        (
            "eks.amazonaws.com/nodegroup=ng-1",
            LabelSelector({"eks.amazonaws.com/nodegroup": "ng-1"}),
        ),
        ("app=", LabelSelector({"app": ""})),
    ],
)
def test_parses(text: str, expected: LabelSelector) -> None:
    assert parse_label_selector(text) == expected


@pytest.mark.parametrize(
    ("text", "selects"),
    [
        ("", True),
        ("app=web,tier in (front,back)", True),
        ("app=web,app=api", False),
        ("app!=web", False),
        ("missing!=x", True),
        ("tier notin (front)", False),
        ("!app", False),
        ("version<10,version>6", True),
        ("version>7", False),
    ],
)
def test_matches(text: str, selects: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is selects


@pytest.mark.parametrize(
    "text", ["app=web,", "app in (a,b", "app in a,b)", "=web", "app=we b", "a b", "app in (a b)"]
)
def test_rejects_malformed_selectors_as_user_errors(text: str) -> None:
    with pytest.raises(LabelSelectorError) as error:
        parse_label_selector(text)
    assert isinstance(error.value, UserError)
