"""The key-age timeline: one inline SVG (``id="key-age-timeline"``), no script, no CSS.

Each key with a known creation date is a bar from its creation to its retirement (or
now). The primary key's bar is blue until the policy's warning line, amber to its due
line, and red past it; a previous key's bar turns red past the end of its
recipient-usage period; a retired key's bar is grey. Each row carries its own warning
line (amber, dashed) and due line (purple); a vertical line marks now, and a triangle
marks each rotation *to* that key (green when verified). Every colour is a presentation
attribute, so a ``default-src 'none'`` page shows it; every text is escaped.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any

__all__ = ["COLORS", "TIMELINE_ID", "render_timeline"]

TIMELINE_ID = "key-age-timeline"

#: The palette (tests look for these exact colours in the screenshot).
COLORS = {
    "background": "#f4f7fb",
    "ok": "#2f6fdf",
    "previous": "#6f95d2",
    "warn": "#e0a100",
    "over": "#c62828",
    "retired": "#9e9e9e",
    "unused": "#b8c4d6",
    "due": "#6a1b9a",
    "warn_line": "#e0a100",
    "now": "#222222",
    "rotation": "#2e7d32",
    "rotation_unverified": "#ef6c00",
    "axis": "#8a94a6",
    "text": "#1f2933",
}

_WIDTH = 1000
_LABEL = 250
_RIGHT = 20
_TOP = 44
_ROW = 36
_BAR = 16
_BOTTOM = 56


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        span = max((end - start).total_seconds(), 86400.0)
        pad = span * 0.04
        self.start = start - timedelta(seconds=pad)
        self.seconds = span + 2 * pad
        self.left = _LABEL
        self.width = _WIDTH - _LABEL - _RIGHT

    def x(self, when: datetime) -> int:
        frac = (when - self.start).total_seconds() / self.seconds
        return self.left + round(max(0.0, min(1.0, frac)) * self.width)


def _ticks(scale: _Scale) -> list[datetime]:
    """Month starts (every 1, 3, 6 or 12 months) across the scale."""
    end = scale.start + timedelta(seconds=scale.seconds)
    months = scale.seconds / (30.44 * 86400)
    step = next((s for s in (1, 3, 6, 12, 24, 60) if months / s <= 10), 120)
    year, month = scale.start.year, scale.start.month
    out: list[datetime] = []
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        if (month - 1) % step and step < 12:
            continue
        if step >= 12 and (month != 1 or year % (step // 12)):
            continue
        tick = datetime(year, month, 1, tzinfo=timezone.utc)
        if tick > end:
            return out
        out.append(tick)


def render_timeline(keys: list[dict[str, Any]], now: datetime) -> str:
    """The SVG for the report's ``keys`` table at ``now`` (see the module docstring)."""
    rows = [k for k in keys if k.get("fingerprint")] or keys
    stamps: list[datetime] = [now]
    for k in rows:
        for name in ("created", "retired", "warn_at", "due"):
            when = _parse(k.get(name))
            if when is not None:
                stamps.append(when)
        for r in k.get("rotations", []):
            when = _parse(r.get("finished"))
            if when is not None:
                stamps.append(when)
    scale = _Scale(min(stamps), max(stamps))
    height = _TOP + _ROW * max(1, len(rows)) + _BOTTOM
    c = COLORS
    out = [
        f'<svg id="{TIMELINE_ID}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
        f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12" '
        f'aria-labelledby="{TIMELINE_ID}-title {TIMELINE_ID}-desc">',
        f'<title id="{TIMELINE_ID}-title">Key-age timeline</title>',
        f'<desc id="{TIMELINE_ID}-desc">Each key from its creation to its retirement or now, '
        "against the policy's warning and due lines; triangles mark rotations.</desc>",
        f'<rect x="0" y="0" width="{_WIDTH}" height="{height}" fill="{c["background"]}" '
        'shape-rendering="crispEdges"/>',
    ]
    plot_bottom = _TOP + _ROW * max(1, len(rows))
    for tick in _ticks(scale):
        x = scale.x(tick)
        out.append(
            f'<line x1="{x}" y1="{_TOP - 6}" x2="{x}" y2="{plot_bottom}" stroke="{c["axis"]}" '
            'stroke-width="1" stroke-opacity="0.35" shape-rendering="crispEdges"/>'
        )
        out.append(
            f'<text x="{x}" y="{_TOP - 12}" text-anchor="middle" fill="{c["text"]}">'
            f"{tick:%Y-%m}</text>"
        )
    for index, k in enumerate(rows):
        top = _TOP + index * _ROW
        mid = top + _ROW // 2
        bar_top = mid - _BAR // 2
        fp = str(k.get("fingerprint") or "(no valid key)")
        role = str(k.get("role", ""))
        out.append(
            f'<text x="8" y="{mid + 4}" fill="{c["text"]}">'
            f'<tspan font-weight="bold">{_attr(role)}</tspan> '
            f'<tspan font-family="DejaVu Sans Mono, monospace">{_attr(fp)}</tspan></text>'
        )
        created = _parse(k.get("created"))
        if created is None:
            out.append(
                f'<text x="{scale.left + 4}" y="{mid + 4}" fill="{c["text"]}" '
                'font-style="italic">creation date unknown</text>'
            )
            continue
        end = _parse(k.get("retired")) or now
        warn_at, due = _parse(k.get("warn_at")), _parse(k.get("due"))
        if role == "retired":
            segments = [(created, end, c["retired"])]
        elif role in ("registered",):
            segments = [(created, end, c["unused"])]
        else:
            base = c["ok"] if role == "primary" else c["previous"]
            cuts: list[tuple[datetime, str]] = []
            if warn_at is not None:
                cuts.append((warn_at, c["warn"]))
            if due is not None:
                cuts.append((due, c["over"]))
            segments = []
            start, color = created, base
            for when, next_color in cuts:
                if when >= end:
                    break
                if when > start:
                    segments.append((start, when, color))
                    start = when
                color = next_color
            segments.append((start, end, color))
        for s, e, color in segments:
            x1, x2 = scale.x(s), scale.x(e)
            out.append(
                f'<rect class="bar" x="{x1}" y="{bar_top}" width="{max(1, x2 - x1)}" '
                f'height="{_BAR}" fill="{color}" shape-rendering="crispEdges"/>'
            )
        markers = (  # when, class, inset, colour, width, dashes
            (warn_at, "warn-line", 3, c["warn_line"], 2, 'stroke-dasharray="4 3" '),
            (due, "due-line", 2, c["due"], 3, ""),
        )
        for when, name, inset, color, width, dashes in markers:
            if when is not None and role in ("primary", "previous"):
                x = scale.x(when)
                out.append(
                    f'<line class="{name}" x1="{x}" y1="{top + inset}" x2="{x}" '
                    f'y2="{top + _ROW - inset}" stroke="{color}" stroke-width="{width}" '
                    f'{dashes}shape-rendering="crispEdges"/>'
                )
        for r in k.get("rotations", []):
            when = _parse(r.get("finished"))
            if when is None or r.get("direction") != "to":
                continue
            x = scale.x(when)
            color = c["rotation"] if r.get("verified") else c["rotation_unverified"]
            out.append(
                f'<path class="rotation" d="M{x - 6},{bar_top - 9} L{x + 6},{bar_top - 9} '
                f'L{x},{bar_top - 1} Z" fill="{color}"><title>rotated to this key: '
                f"{_attr(r.get('store', ''))} ({_attr(r.get('finished', ''))})</title></path>"
            )
    x = scale.x(now)
    out.append(
        f'<line class="now-line" x1="{x}" y1="{_TOP - 4}" x2="{x}" y2="{plot_bottom + 4}" '
        f'stroke="{c["now"]}" stroke-width="1" shape-rendering="crispEdges"/>'
    )
    anchor = "end" if x > _WIDTH - 70 else "middle"
    out.append(
        f'<text x="{x}" y="{plot_bottom + 16}" text-anchor="{anchor}" fill="{c["now"]}">'
        f"now ({now:%Y-%m-%d})</text>"
    )
    legend_y = plot_bottom + 38
    legend = [
        ("ok", "within the period"),
        ("warn", "warning window"),
        ("over", "past due"),
        ("retired", "retired"),
    ]
    lx = 8
    for color, label in legend:
        out.append(
            f'<rect x="{lx}" y="{legend_y - 9}" width="14" height="10" fill="{c[color]}" '
            'shape-rendering="crispEdges"/>'
        )
        out.append(f'<text x="{lx + 18}" y="{legend_y}" fill="{c["text"]}">{label}</text>')
        lx += 30 + 7 * len(label)
    out.append(
        f'<line x1="{lx}" y1="{legend_y - 10}" x2="{lx}" y2="{legend_y + 1}" '
        f'stroke="{c["due"]}" stroke-width="3"/>'
    )
    out.append(f'<text x="{lx + 8}" y="{legend_y}" fill="{c["text"]}">due line</text>')
    lx += 80
    out.append(
        f'<path d="M{lx},{legend_y - 9} L{lx + 12},{legend_y - 9} L{lx + 6},{legend_y - 1} Z" '
        f'fill="{c["rotation"]}"/>'
    )
    out.append(f'<text x="{lx + 18}" y="{legend_y}" fill="{c["text"]}">rotation to the key</text>')
    out.append("</svg>")
    return "\n".join(out)
