"""Server-side SVG charts (no JavaScript chart library).

Pure functions: data in, an SVG string out. Scores arrive as ``Decimal``; they are
converted to ``float`` only to place them on screen (coordinates are display only,
nothing computed here is ever stored or compared against a rule). Every piece of text
comes from the caller, already translated, so this module knows nothing of languages.

The chart is accessible: ``role="img"`` with ``aria-labelledby`` pointing at its
``<title>`` and ``<desc>``; each point carries its own ``<title>`` (a tooltip), and the
page shows the same figures as a table for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

__all__ = ["COLOURS", "MonthPoint", "history_svg", "runs"]

# Drawing area (the SVG scales to its container through the viewBox).
WIDTH = 400
HEIGHT = 300
LEFT = 34
RIGHT = 8
TOP = 10
SCORE_BOTTOM = 170  # bottom of the score panel
LANE_TOP = 188  # the level lane (a step line of the level in effect), one labelled row per level
LANE_BOTTOM = 270
AXIS_Y = 292  # baseline of the month labels
MAX_MONTH_LABELS = 6

COLOURS = {
    "composite": "#1d5fa8",
    "threshold": "#1f7a3f",
    "floor": "#b3261e",
    "level": "#9c5a0b",
    "grid": "#d9dee6",
    "gap": "#eef1f5",
    "text": "#5f6b7a",
}


@dataclass(frozen=True, slots=True)
class MonthPoint:
    """One month of the history.

    ``composite`` is ``None`` for an incomplete month (drawn as a gap);
    ``threshold`` is the composite needed for the next level (``None`` at the top);
    ``floor`` the floor of the level in effect. ``label`` is the short axis label and
    ``note`` the tooltip of the month's point or gap.
    """

    month: str
    label: str
    level: int
    composite: Decimal | None
    threshold: Decimal | None = None
    floor: Decimal | None = None
    note: str = ""


def runs(values: Sequence[object | None]) -> list[tuple[int, int]]:
    """(first, last) index pairs of the runs of consecutive non-``None`` values."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, v in enumerate(values):
        if v is None:
            if start is not None:
                out.append((start, i - 1))
                start = None
        elif start is None:
            start = i
    if start is not None:
        out.append((start, len(values) - 1))
    return out


def _f(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _step_paths(values: Sequence[Decimal | int | None], x_edge: Callable[[int], float], y: Callable[[float], float]) -> list[str]:
    """A step line per run: flat across each month's column, vertical where the value changes."""
    paths = []
    for first, last in runs(values):
        parts = [f"M{_f(x_edge(first))} {_f(y(float(values[first])))}"]  # type: ignore[arg-type]
        for i in range(first, last + 1):
            v = values[i]
            if i > first and v != values[i - 1]:
                parts.append(f"V{_f(y(float(v)))}")  # type: ignore[arg-type]
            parts.append(f"H{_f(x_edge(i + 1))}")
        paths.append("".join(parts))
    return paths


def _y_range(points: Sequence[MonthPoint]) -> tuple[int, int]:
    values = [v for p in points for v in (p.composite, p.threshold, p.floor) if v is not None]
    low = min(values) if values else Decimal(60)
    lo = max(0, math.floor((float(low) - 5) / 10) * 10)
    return (min(lo, 90), 100)


def history_svg(
    points: Sequence[MonthPoint],
    *,
    chart_id: str,
    title: str,
    desc: str,
    levels: Sequence[int] = (1, 2, 3, 4, 5),
) -> Markup:
    """Composite per month against the promotion threshold and the floor, with a step
    line of the level in effect underneath. Incomplete months are gaps."""
    cid = escape(chart_id)
    n = max(1, len(points))
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / n
    lo, hi = _y_range(points)
    lmin, lmax = min(levels), max(levels)

    def x_edge(i: int) -> float:
        return LEFT + i * step

    def x_mid(i: int) -> float:
        return LEFT + (i + 0.5) * step

    def y_score(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * (SCORE_BOTTOM - TOP)

    def y_level(v: float) -> float:
        span = (lmax - lmin) or 1
        return LANE_TOP + (lmax - v) / span * (LANE_BOTTOM - LANE_TOP)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" id="{cid}" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]

    # Incomplete months: a shaded column (a gap in the composite line).
    for i, p in enumerate(points):
        if p.composite is None:
            out.append(
                f'<rect class="gap" x="{_f(x_edge(i))}" y="{TOP}" width="{_f(step)}" height="{SCORE_BOTTOM - TOP}" '
                f'fill="{COLOURS["gap"]}"><title>{escape(p.note)}</title></rect>'
            )

    # Score grid and its labels.
    grid_step = 10 if hi - lo <= 50 else 20
    out.append(f'<g class="grid" stroke="{COLOURS["grid"]}" stroke-width="1">')
    for v in range(lo, hi + 1, grid_step):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_f(y_score(v))}" y2="{_f(y_score(v))}"/>')
    out.append("</g>")
    out.append(f'<g class="y-labels" fill="{COLOURS["text"]}" text-anchor="end">')
    for v in range(lo, hi + 1, grid_step):
        out.append(f'<text x="{LEFT - 4}" y="{_f(y_score(v) + 4)}">{v}</text>')
    out.append("</g>")

    # Floor and threshold of the level in effect: step lines.
    for key, dash in (("floor", "2 3"), ("threshold", "6 3")):
        values = [getattr(p, key) for p in points]
        for d in _step_paths(values, x_edge, y_score):
            out.append(
                f'<path class="{key}" d="{d}" fill="none" stroke="{COLOURS[key]}" stroke-width="1.5" '
                f'stroke-dasharray="{dash}"/>'
            )

    # The composite: one line per run of complete months, one point per complete month.
    comps = [p.composite for p in points]
    for first, last in runs(comps):
        if last > first:
            coords = " ".join(f"{_f(x_mid(i))},{_f(y_score(float(comps[i])))}" for i in range(first, last + 1))  # type: ignore[arg-type]
            out.append(
                f'<polyline class="composite" points="{coords}" fill="none" stroke="{COLOURS["composite"]}" '
                f'stroke-width="2" stroke-linejoin="round"/>'
            )
    for i, p in enumerate(points):
        if p.composite is not None:
            out.append(
                f'<circle class="pt" data-month="{escape(p.month)}" cx="{_f(x_mid(i))}" '
                f'cy="{_f(y_score(float(p.composite)))}" r="3" fill="{COLOURS["composite"]}">'
                f"<title>{escape(p.note)}</title></circle>"
            )

    # The level lane.
    out.append(
        f'<line class="lane" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_f(y_level(lmin))}" y2="{_f(y_level(lmin))}" '
        f'stroke="{COLOURS["grid"]}"/>'
    )
    out.append(f'<g class="level-labels" fill="{COLOURS["level"]}" text-anchor="end">')
    for lv in range(lmin, lmax + 1):
        out.append(f'<text x="{LEFT - 4}" y="{_f(y_level(lv) + 4)}">{lv}★</text>')
    out.append("</g>")
    for d in _step_paths([p.level for p in points], x_edge, y_level):
        out.append(f'<path class="level" d="{d}" fill="none" stroke="{COLOURS["level"]}" stroke-width="2.5"/>')

    # Month labels: at most MAX_MONTH_LABELS, always including the latest month.
    every = max(1, math.ceil(len(points) / MAX_MONTH_LABELS))
    out.append(f'<g class="x-labels" fill="{COLOURS["text"]}">')
    for i, p in enumerate(points):
        if (len(points) - 1 - i) % every == 0:
            x = x_mid(i)
            # Keep the outermost labels inside the picture.
            anchor, x = ("end", WIDTH - 2) if x + 24 > WIDTH else ("start", 2) if x - 24 < 0 else ("middle", x)
            out.append(f'<text x="{_f(x)}" y="{AXIS_Y}" text-anchor="{anchor}">{escape(p.label)}</text>')
    out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))
