"""`eksup status --html FILE`: one self-contained page for the incident review.

The timeline of every run's work on every step, each node group's drain over time (nodes
drained, pods left and evicted) and its budget headroom (disruptions the PodDisruptionBudgets
allowed, pods they held back), drawn as inline SVG from the journal's `progress` records. No
script, no stylesheet or font from elsewhere: the file opens offline and attaches to a ticket.
Pure rendering; every text from the journal is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from upgrader.core.progress import clock_text
from upgrader.core.run.journal import Phase, Record
from upgrader.plan.document import Plan
from upgrader.render.status import StepStatus, run_state

_WIDTH = 900
_ROW = 22
_LABEL = 260
_COLOURS = {
    "done": "#2e7d32",
    "already-done": "#81c784",
    "failed": "#c62828",
    "stopped": "#f9a825",
    "waiting": "#f9a825",
    "interrupted": "#ef6c00",
}
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
svg text { font: 12px sans-serif; }
.legend span { display: inline-block; margin-right: 1em; }
"""


def _utc(moment: float | None) -> str:
    if moment is None:
        return ""
    return dt.datetime.fromtimestamp(moment, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_html(plan: Plan, statuses: Sequence[StepStatus], records: Sequence[Record]) -> str:
    title = f"eksup run report: {plan.cluster} {plan.current_version} -> {plan.target_version}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(run_state(list(records))).replace(chr(10), '<br>')}</p>",
        "<h2>Steps</h2>",
        _steps_table(statuses),
        "<h2>Timeline</h2>",
        _timeline(statuses),
        "<h2>Drains</h2>",
        *_drains(plan, records),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _steps_table(statuses: Sequence[StepStatus]) -> str:
    rows = [
        "<table><tr><th>step</th><th>state</th><th>run</th><th>started</th><th>took</th>"
        "<th>detail</th></tr>"
    ]
    for s in statuses:
        took = "" if s.seconds is None else clock_text(s.seconds)
        cells = (s.step_id, s.state, s.run, _utc(s.started_at), took, s.detail)
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _timeline(statuses: Sequence[StepStatus]) -> str:
    segments = [(s.step_id, seg) for s in statuses for seg in s.segments]
    if not segments:
        return "<p>No step has started yet.</p>"
    start = min(seg.start for _, seg in segments)
    end = max(seg.end for _, seg in segments)
    span = max(end - start, 1.0)
    scale = (_WIDTH - _LABEL - 20) / span
    height = _ROW * len(statuses) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}">']
    for row, status in enumerate(statuses):
        y = row * _ROW + 4
        out.append(f'<text x="0" y="{y + 13}">{escape(status.step_id)}</text>')
        for seg in status.segments:
            x = _LABEL + (seg.start - start) * scale
            w = max(2.0, seg.seconds * scale)
            colour = _COLOURS.get(seg.outcome, "#607d8b")
            tip = f"{status.step_id}: {seg.outcome}, run {seg.run}, {clock_text(seg.seconds)}"
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 6}" '
                f'fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
    axis = _ROW * len(statuses) + 20
    out.append(f'<text x="{_LABEL}" y="{axis}">{escape(_utc(start))}</text>')
    out.append(
        f'<text x="{_WIDTH - 10}" y="{axis}" text-anchor="end">'
        f"{escape(_utc(end))} ({escape(clock_text(end - start))})</text>"
    )
    out.append("</svg>")
    legend = "".join(
        f'<span><svg width="12" height="12"><rect width="12" height="12" fill="{c}"/></svg> '
        f"{escape(k)}</span>"
        for k, c in _COLOURS.items()
    )
    return "\n".join(out) + f'\n<p class="legend">{legend}</p>'


def _drains(plan: Plan, records: Sequence[Record]) -> list[str]:
    samples: dict[str, list[Record]] = {}
    for record in records:
        if record.phase is Phase.PROGRESS and record.step is not None:
            samples.setdefault(record.step, []).append(record)
    if not samples:
        return ["<p>No drain has been recorded.</p>"]
    targets = {step.id: step.target for step in plan.steps}
    out = []
    for step_id, points in samples.items():
        out.append(f"<h3>{escape(step_id)} ({escape(targets.get(step_id, ''))})</h3>")
        out.append(
            _chart(
                "Nodes",
                points,
                [("nodes", "#455a64", "nodes draining"), ("drained", "#2e7d32", "nodes drained")],
            )
        )
        out.append(
            _chart(
                "Pods",
                points,
                [("pods_left", "#c62828", "pods left"), ("evicted", "#1565c0", "pods evicted")],
            )
        )
        out.append(
            _chart(
                "Budget headroom",
                points,
                [
                    ("headroom", "#2e7d32", "disruptions allowed"),
                    ("held", "#ef6c00", "pods held by a budget"),
                ],
            )
        )
    return out


def _number(record: Record, key: str) -> float:
    try:
        return float(record.data.get(key, "0"))
    except ValueError:
        return 0.0


def _chart(title: str, points: Sequence[Record], series: Sequence[tuple[str, str, str]]) -> str:
    """A small line chart of `series` (data key, colour, label) over the samples' times."""
    width, height, pad = 420, 140, 30
    t0 = points[0].at
    span = max(points[-1].at - t0, 1.0)
    top = max((_number(p, key) for p in points for key, _, _ in series), default=0.0) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}">',
        f'<text x="{pad}" y="14">{escape(title)} (max {top:.0f})</text>',
        f'<line x1="{pad}" y1="{height}" x2="{width - 10}" y2="{height}" stroke="#999"/>',
        f'<line x1="{pad}" y1="20" x2="{pad}" y2="{height}" stroke="#999"/>',
    ]
    for row, (key, colour, label) in enumerate(series):
        coords = " ".join(
            f"{pad + (p.at - t0) / span * (width - pad - 10):.1f},"
            f"{height - _number(p, key) / top * (height - 20):.1f}"
            for p in points
        )
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        out.append(
            f'<text x="{pad + row * 190}" y="{height + 30}" fill="{colour}">{escape(label)}</text>'
        )
    out.append(
        f'<text x="{width - 10}" y="{height + 14}" text-anchor="end">'
        f"{escape(clock_text(span))}</text>"
    )
    out.append("</svg>")
    return "\n".join(out)
