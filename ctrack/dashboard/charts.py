"""Server-rendered SVG charts for the dashboard: no JavaScript, no CDN, nothing to load.

Pure functions from report rows to markup. Every label is escaped (source names can come
from a visitor's UTM parameters); colours are presentation attributes, not inline styles,
so the dashboard's Content-Security-Policy can forbid inline CSS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from ctrack.core.period import WEEKDAYS

COLORS = {
    "calls": "#2563eb",
    "answered": "#16a34a",
    "missed": "#dc2626",
    "abandoned": "#f59e0b",
    "other": "#94a3b8",
    "leads": "#7c3aed",
}
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def nice_max(value: float) -> float:
    """The axis top: the smallest 1, 2, 2.5 or 5 × 10^k at or above value (1 for 0)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" {FONT} font-size="12">' + "".join(body) + "</svg>"
    )


def source_bars(rows: Sequence[dict[str, Any]], key: str = "source", limit: int = 12) -> Markup:
    """Horizontal bars, one per source: answered, missed, abandoned and other calls stacked."""
    rows = [r for r in rows if r["calls"] > 0][:limit]
    if not rows:
        return Markup('<p class="empty">No calls in this period.</p>')
    label_w, bar_w, value_w, row_h = 170, 420, 60, 28
    width, height = label_w + bar_w + value_w, row_h * len(rows) + 30
    top = nice_max(max(r["calls"] for r in rows))
    body = []
    for i, row in enumerate(rows):
        y = i * row_h + 4
        name = row[key] or "(unattributed)"
        short = name if len(name) <= 24 else name[:23] + "…"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="#1e293b">'
            f"<title>{escape(name)}</title>{escape(short)}</text>"
        )
        other = row["calls"] - row["answered"] - row["missed"] - row["abandoned"]
        x = float(label_w)
        for part, count in (
            ("answered", row["answered"]),
            ("missed", row["missed"]),
            ("abandoned", row["abandoned"]),
            ("other", other),
        ):
            if count <= 0:
                continue
            w = bar_w * count / top
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="20" fill="{COLORS[part]}">'
                f"<title>{escape(name)}: {count:,} {part}</title></rect>"
            )
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 15}" fill="#334155">{row["calls"]:,}</text>')
    legend_y = row_h * len(rows) + 18
    lx = label_w
    for part in ("answered", "missed", "abandoned", "other"):
        body.append(
            f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS[part]}"/>'
            f'<text x="{lx + 14}" y="{legend_y}" fill="#475569">{part}</text>'
        )
        lx += 90
    return _svg(width, height, "Calls by source", body)


def heatmap(cells: Sequence[dict[str, Any]], metric: str = "calls") -> Markup:
    """A weekday × hour grid shaded by calls (blue) or missed calls (red)."""
    cell_w, cell_h, left, top_pad = 26, 24, 40, 22
    width, height = left + 24 * cell_w + 4, top_pad + 7 * cell_h + 4
    peak = max((c[metric] for c in cells), default=0) or 1
    rgb = (37, 99, 235) if metric == "calls" else (220, 38, 38)
    body = []
    for hour in range(0, 24, 3):
        body.append(
            f'<text x="{left + hour * cell_w + cell_w / 2}" y="14" text-anchor="middle" '
            f'fill="#64748b">{hour:02d}h</text>'
        )
    for day, name in enumerate(WEEKDAYS):
        body.append(
            f'<text x="{left - 8}" y="{top_pad + day * cell_h + 16}" text-anchor="end" fill="#334155">{name}</text>'
        )
    for cell in cells:
        value = cell[metric]
        share = value / peak
        fill = (
            "#f1f5f9"
            if value == 0
            else "#{:02x}{:02x}{:02x}".format(*(round(255 - (255 - c) * (0.15 + 0.85 * share)) for c in rgb))
        )
        x, y = left + cell["hour"] * cell_w, top_pad + cell["weekday"] * cell_h
        title = (
            f"{WEEKDAYS[cell['weekday']]} {cell['hour']:02d}:00–{cell['hour']:02d}:59: "
            f"{cell['calls']:,} calls, {cell['missed']:,} missed"
        )
        text_fill = "#ffffff" if share > 0.55 else "#0f172a"
        body.append(
            f'<g><title>{title}</title><rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" '
            f'height="{cell_h - 2}" rx="3" fill="{fill}"/>'
        )
        if value:
            body.append(
                f'<text x="{x + cell_w / 2}" y="{y + 16}" text-anchor="middle" font-size="10" '
                f'fill="{text_fill}">{value}</text>'
            )
        body.append("</g>")
    return _svg(width, height, f"{metric.capitalize()} by weekday and hour", body)


def trend(days: Sequence[dict[str, Any]], series: Sequence[str] = ("calls", "answered", "leads")) -> Markup:
    """Daily lines (calls, answered, leads) with a y axis and date ticks."""
    if not days:
        return Markup('<p class="empty">No days in this period.</p>')
    left, right, top_pad, bottom = 48, 12, 12, 44
    plot_w, plot_h = 720, 220
    width, height = left + plot_w + right, top_pad + plot_h + bottom
    top = nice_max(max(max(d[s] for s in series) for d in days))
    n = len(days)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return top_pad + plot_h - plot_h * v / top

    body = []
    for k in range(5):
        v = top * k / 4
        y = y_at(v)
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#64748b">{_fmt(v)}</text>'
        )
    step = max(1, math.ceil(n / 8))
    for i in range(0, n, step):
        body.append(
            f'<text x="{x_at(i):.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle" '
            f'fill="#64748b">{escape(days[i]["day"][5:])}</text>'
        )
    for s in series:
        points = " ".join(f"{x_at(i):.1f},{y_at(d[s]):.1f}" for i, d in enumerate(days))
        body.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[s]}" stroke-width="2"/>')
        for i, d in enumerate(days):
            body.append(
                f'<circle cx="{x_at(i):.1f}" cy="{y_at(d[s]):.1f}" r="{3 if n <= 62 else 1.5}" '
                f'fill="{COLORS[s]}"><title>{escape(d["day"])}: {d[s]:,} {s}</title></circle>'
            )
    lx = left
    for s in series:
        body.append(
            f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{COLORS[s]}"/>'
            f'<text x="{lx + 14}" y="{height - 3}" fill="#475569">{s}</text>'
        )
        lx += 100
    return _svg(width, height, "Calls per day", body)
