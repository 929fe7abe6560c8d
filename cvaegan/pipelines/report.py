"""Self-contained HTML reports (demo, evaluate): one file, inline SVG loss curves, PNGs referenced
by relative path so the folder can be zipped and opened anywhere. No plotting dependency."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvaegan.runtime.atomic import atomic_write_text

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class ReportSection:
    title: str
    text: str = ""            # HTML allowed (the SVG curves are passed this way)
    images: list[tuple[str, Path]] = field(default_factory=list)


def loss_curve_svg(curves: dict[str, Sequence[tuple[float, float]]], log_y: bool = False,
                   width: int = 560, height: int = 260) -> str:
    """An inline SVG line chart of named (step, value) series. Non-finite (and, with log_y,
    non-positive) values are dropped rather than breaking the scale."""
    ok = (lambda v: math.isfinite(v) and v > 0) if log_y else math.isfinite
    series = {k: [(float(s), float(v)) for s, v in pts if math.isfinite(s) and ok(float(v))]
              for k, pts in curves.items()}
    series = {k: pts for k, pts in series.items() if pts}
    if not series:
        return "<p><em>no logged values yet</em></p>"
    ty = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    xs = [s for pts in series.values() for s, _ in pts]
    ys = [ty(v) for pts in series.values() for _, v in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    ml, mr, mt, mb = 56, 110, 12, 28
    pw, ph = width - ml - mr, height - mt - mb

    def px(s: float) -> float:
        return ml + (s - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return mt + ph - (ty(v) - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for frac in (0.0, 0.5, 1.0):
        yv = y0 + frac * (y1 - y0)
        label = f"{10 ** yv:.3g}" if log_y else f"{yv:.3g}"
        y = mt + ph - frac * ph
        out.append(f'<text x="{ml - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        xv = x0 + frac * (x1 - x0)
        out.append(f'<text x="{ml + frac * pw:.1f}" y="{height - 8}" text-anchor="middle">{xv:.0f}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in pts)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        out.append(f'<text x="{ml + pw + 8}" y="{mt + 14 * (i + 1)}" fill="{colour}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def write_html_report(path: str | os.PathLike[str], title: str, summary: dict[str, Any],
                      sections: list[ReportSection]) -> Path:
    """Write one HTML page (atomically); images are linked relative to the page."""
    path = Path(path)
    base = path.parent.resolve()

    def rel(p: Path) -> str:
        try:
            return Path(os.path.relpath(Path(p).resolve(), base)).as_posix()
        except ValueError:  # another drive on Windows
            return Path(p).resolve().as_uri()

    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in summary.items())
    body = [f"<h1>{html.escape(title)}</h1>", f"<table class='summary'>{rows}</table>"]
    for sec in sections:
        body.append(f"<section><h2>{html.escape(sec.title)}</h2>")
        if sec.text:
            body.append(f"<div>{sec.text}</div>")
        for caption, img in sec.images:
            body.append(f"<figure><img src='{html.escape(rel(img))}' alt='{html.escape(caption)}'>"
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        body.append("</section>")
    page = ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    atomic_write_text(path, page)
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table.summary{border-collapse:collapse;font-size:13px}
table.summary th{text-align:left;padding:2px 12px 2px 0;color:#555;font-weight:normal}
figure{display:inline-block;margin:0 16px 16px 0;vertical-align:top}
img{image-rendering:pixelated;max-width:100%;min-width:256px;border:1px solid #ddd}
figcaption{font-size:12px;color:#555}
section{margin-top:1.5em}
"""
