"""Charts drawn on the server as SVG: a line over time and a row of bars. No library, no
script: the page is complete as served, and a live update is a new fragment."""

from __future__ import annotations

from collections.abc import Sequence

from kafkalab.console.html import esc

WIDTH, HEIGHT, PAD = 320, 90, 4
GAP_S = 15.0


def line_chart(
    title: str, points: Sequence[tuple[float, float | None]], unit: str = "", color: str = "#2a7ae2"
) -> str:
    """`points` (t seconds, value or None for a gap) as a polyline scaled to fit, with the
    latest value, the maximum and the time span written beside it."""
    known = [(t, v) for t, v in points if v is not None]
    if len(known) < 2:
        return (
            f"<figure class=chart><figcaption>{esc(title)}</figcaption>"
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role=img aria-label="{esc(title)}">'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor=middle class=muted>'
            "collecting…</text></svg></figure>"
        )
    t0, t1 = known[0][0], known[-1][0]
    top = max(v for _, v in known) or 1.0
    span = (t1 - t0) or 1.0

    def x(t: float) -> float:
        return PAD + (t - t0) / span * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - v / top * (HEIGHT - 2 * PAD - 12)

    lines = "".join(
        f'<polyline fill=none stroke="{color}" stroke-width=2 points="{points}" />'
        for points in (
            " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run) for run in segments(known)
        )
    )
    latest = known[-1][1]
    return (
        f"<figure class=chart><figcaption>{esc(title)} <b>{latest:,.4g}{esc(unit)}</b>"
        f" <small>max {top:,.4g} · last {span / 60:.1f} min</small></figcaption>"
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role=img aria-label="{esc(title)}">'
        f"<line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} class=axis />"
        f"{lines}</svg></figure>"
    )


def segments(
    points: Sequence[tuple[float, float]], gap: float = GAP_S
) -> list[list[tuple[float, float]]]:
    """The points cut where no sample was taken for `gap` seconds (nobody was looking: the
    console samples only while a page is open), so a chart never draws a line across it."""
    runs: list[list[tuple[float, float]]] = []
    for point in points:
        if runs and point[0] - runs[-1][-1][0] <= gap:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def bars(
    title: str, values: Sequence[tuple[str, float]], unit: str = "", top: float | None = None
) -> str:
    """Horizontal bars, one per (label, value), scaled to `top` (default: the largest)."""
    height = 18 * max(len(values), 1) + 4
    biggest = top or max((v for _, v in values), default=0.0) or 1.0
    rows = []
    for i, (label, value) in enumerate(values):
        w = max(value, 0.0) / biggest * (WIDTH - 130)
        rows.append(
            f"<text x=0 y={i * 18 + 14}>{esc(label)}</text>"
            f'<rect x=80 y={i * 18 + 3} width="{w:.1f}" height=13 class=bar />'
            f'<text x="{84 + w:.1f}" y={i * 18 + 14}>{value:,.4g}{esc(unit)}</text>'
        )
    return (
        f"<figure class=chart><figcaption>{esc(title)}</figcaption>"
        f'<svg viewBox="0 0 {WIDTH} {height}" role=img aria-label="{esc(title)}">'
        f"{''.join(rows)}</svg></figure>"
    )
