"""Label-selector strings, as `kubectl -l` and `?labelSelector=` take them, as `LabelSelector`s.

The `Cluster` port filters with strings ("app=web,tier in (a,b),!legacy"), because that is what
the Kubernetes API accepts; the fake cluster and the informer cache (which answer such reads
themselves) need the same grammar to answer the same way.
Supported, as in apimachinery's `labels.Parse`: `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
`k notin (a,b)`, `k` (exists), `!k` (does not exist), and `k>n` / `k<n`.
"""

from __future__ import annotations

import re

from upgrader.core.errors import UserError
from upgrader.core.kube import LabelSelector, SelectorRequirement

_KEY = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"

_EXISTS = re.compile(rf"^(?P<not>!?)\s*(?P<key>{_KEY})$")
_EQUALITY = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_COMPARE = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>[<>])\s*(?P<value>-?[0-9]+)$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")


class LabelSelectorError(UserError):
    """The selector string does not parse (the API server answers 400 Bad Request)."""


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a selector string; the empty string selects everything."""
    match_labels: dict[str, str] = {}
    expressions: list[SelectorRequirement] = []
    for clause in _split_clauses(text):
        if m := _EQUALITY.match(clause):
            key, op, value = m["key"], m["op"], m["value"]
            if op == "!=":
                expressions.append(SelectorRequirement(key, "NotIn", (value,)))
            elif key in match_labels:
                # "a=x,a=y" must select nothing, which a dict of labels cannot express.
                expressions.append(SelectorRequirement(key, "In", (value,)))
            else:
                match_labels[key] = value
        elif m := _SET.match(clause):
            values = tuple(v.strip() for v in m["values"].split(","))
            if not all(_VALUE_ONLY.match(v) for v in values):
                raise LabelSelectorError(f"invalid value in label selector clause {clause!r}")
            operator = "In" if m["op"] == "in" else "NotIn"
            expressions.append(SelectorRequirement(m["key"], operator, values))
        elif m := _COMPARE.match(clause):
            operator = "Gt" if m["op"] == ">" else "Lt"
            expressions.append(SelectorRequirement(m["key"], operator, (m["value"],)))
        elif m := _EXISTS.match(clause):
            operator = "DoesNotExist" if m["not"] else "Exists"
            expressions.append(SelectorRequirement(m["key"], operator))
        else:
            raise LabelSelectorError(f"invalid label selector clause {clause!r} in {text!r}")
    return LabelSelector(match_labels=match_labels, match_expressions=tuple(expressions))


def _split_clauses(text: str) -> list[str]:
    """Split on the commas between clauses, not those inside an `in (...)` value list."""
    clauses: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise LabelSelectorError(f"unbalanced parentheses in label selector {text!r}")
        if char == "," and depth == 0:
            clauses.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise LabelSelectorError(f"unbalanced parentheses in label selector {text!r}")
    last = "".join(current).strip()
    if last or clauses:
        clauses.append(last)
    if any(not clause for clause in clauses):
        raise LabelSelectorError(f"empty clause in label selector {text!r}")
    return clauses
