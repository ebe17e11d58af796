"""Plotly figures for the timeline under the player. Pure functions: Prediction in, figure JSON out.

The figure has three stacked panels sharing one time axis (seconds):

    moments   horizontal bars: ranked segments (#1 solid, alternatives fainter), dense-caption lanes, QA evidence
    saliency  the temporal head's foreground curve, one point per sampled frame
    frames    a tick at the real time of every frame the model saw

`shapes[0]` is the playhead (moved by the page's JS while the video plays). Every clickable trace carries the
time to seek to in `customdata[0]`: a bar's start, a curve point's or a frame tick's time, in seconds of the
whole video (a long video's windows answer in global time already).

The time axis always spans the whole video, with a range slider under it: drag its handles (or drag a box on the
panels) to zoom into a stretch of a long video, double-click to see it all again. `layout.uirevision` keeps the
user's zoom while the same video's answer is redrawn (a long video's partial answers, window after window). A
partial answer greys out the part of the video not analysed yet (`shapes[1]`); a "not found" answer says so in
the moments panel.
"""

from __future__ import annotations

import json
from typing import Sequence

import plotly.graph_objects as go

from videoexpert import Prediction, Segment

ACCENT = "#2563eb"      # ranked moments
EVIDENCE = "#059669"    # grounded-QA evidence window
CURVE = "#ea580c"       # saliency
PLAYHEAD = "#dc2626"
GRID = "#e5e7eb"
INK = "#374151"
CAPTION_COLOURS = ("#2563eb", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#d97706")
MAX_ROWS = 8            # ranked alternatives drawn (the list under the timeline shows them all)
SPLINE_POINTS = 400     # a longer saliency curve (a long video's) is drawn as straight lines, no markers: splines and
                        # thousands of markers make every redraw slow


def format_time(seconds: float) -> str:
    """mm:ss.s, or h:mm:ss.s past an hour: the notation of the moments list and the hover labels."""
    tenths = max(0, int(round(seconds * 10)))
    minutes, tenths = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    text = f"{minutes:02d}:{tenths // 10:02d}.{tenths % 10}"
    return f"{hours}:{text}" if hours else text


def caption_lanes(segments: Sequence[Segment]) -> list[int]:
    """Greedy lane per segment (in the given order) so that segments in one lane never overlap."""
    lane_ends: list[float] = []
    lanes = []
    for seg in segments:
        for i, end in enumerate(lane_ends):
            if seg.start >= end - 1e-6:
                lane_ends[i] = seg.end
                lanes.append(i)
                break
        else:
            lane_ends.append(seg.end)
            lanes.append(len(lane_ends) - 1)
    return lanes


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.2f})"


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bars(segments: Sequence[Segment], rows: list[str], colours: list[str], texts: list[str],
          name: str) -> go.Bar:
    # a zero-length segment still gets a visible sliver to click on
    widths = [max(s.end - s.start, 1e-3) for s in segments]
    return go.Bar(
        name=name, orientation="h", y=rows, x=widths, base=[s.start for s in segments],
        marker=dict(color=colours, line=dict(width=0)), text=texts, textposition="inside",
        insidetextanchor="start", textfont=dict(color="white", size=11), constraintext="none",
        customdata=[[round(s.start, 3), round(s.end, 3), round(s.score, 3), _shorten(s.label, 120)]
                    for s in segments],
        hovertemplate=("<b>%{customdata[0]:.2f} – %{customdata[1]:.2f} s</b><br>score %{customdata[2]:.2f}"
                       "<br>%{customdata[3]}<extra></extra>"),
        yaxis="y", xaxis="x", showlegend=False,
    )


def _moment_trace(pred: Prediction, top_k: int | None) -> tuple[go.Bar | None, list[str]]:
    segs = list(pred.segments)
    if not segs:
        return None, []
    if pred.task == "captioning":
        lanes = caption_lanes(segs)
        names = [f"captions {lane + 1}" if max(lanes) else "captions" for lane in lanes]
        colours = [_rgba(CAPTION_COLOURS[i % len(CAPTION_COLOURS)], 0.85) for i in range(len(segs))]
        order = sorted(set(names), key=lambda n: names.index(n))
        return _bars(segs, names, colours, [_shorten(s.label, 40) for s in segs], "captions"), order
    if pred.task == "qa":
        return _bars(segs[:1], ["evidence"], [_rgba(EVIDENCE, 0.9)], ["evidence"], "evidence"), ["evidence"]
    segs = segs[: min(top_k or MAX_ROWS, MAX_ROWS)]
    rows = [f"#{i + 1}" for i in range(len(segs))]
    # rank 1 solid, alternatives fading with rank
    colours = [_rgba(ACCENT, 0.95 if i == 0 else max(0.18, 0.55 - 0.08 * i)) for i in range(len(segs))]
    return _bars(segs, rows, colours, [f"{s.score:.2f}" for s in segs], "moments"), rows


def timeline_figure(pred: Prediction, frame_times: Sequence[float] = (), top_k: int | None = None,
                    height: int = 360, pending_from: float | None = None, revision: str | None = None) -> go.Figure:
    """The timeline of one prediction. `frame_times` are the real times of the frames the model saw;
    `pending_from` (a partial answer) greys out the video from there on; `revision` names what the user's zoom
    belongs to (the video), kept across redraws with the same revision."""
    duration = max(float(pred.duration), 1e-3)
    fig = go.Figure()
    bars, rows = _moment_trace(pred, top_k)
    if bars is not None:
        fig.add_trace(bars)
    if pred.saliency.times:
        short_curve = len(pred.saliency.times) <= SPLINE_POINTS
        fig.add_trace(go.Scatter(
            name="saliency", x=list(pred.saliency.times), y=list(pred.saliency.scores), yaxis="y2", xaxis="x",
            mode="lines+markers" if short_curve else "lines",
            line=dict(color=CURVE, width=2, smoothing=0.4, shape="spline" if short_curve else "linear"),
            marker=dict(size=4, color=CURVE), fill="tozeroy", fillcolor=_rgba(CURVE, 0.12),
            customdata=[[round(t, 3)] for t in pred.saliency.times],
            hovertemplate="<b>%{x:.2f} s</b><br>saliency %{y:.2f}<extra></extra>", showlegend=False))
    if frame_times:
        fig.add_trace(go.Scatter(
            name="frames seen", x=list(frame_times), y=[0.5] * len(frame_times), yaxis="y3", xaxis="x",
            mode="markers", marker=dict(symbol="line-ns-open", size=9, color="#6b7280", line=dict(width=1)),
            customdata=[[round(t, 3)] for t in frame_times], text=[f"frame {i + 1}" for i in range(len(frame_times))],
            hovertemplate="%{text}: <b>%{x:.2f} s</b><extra></extra>", showlegend=False))
    num_rows = max(len(rows), 1)
    shapes = [dict(type="line", xref="x", yref="paper", x0=0, x1=0, y0=0, y1=1, line=dict(color=PLAYHEAD, width=2))]
    annotations = []
    if pending_from is not None and pending_from < duration:
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=pending_from, x1=duration, y0=0, y1=1,
                           fillcolor="rgba(148,163,184,0.18)", line=dict(width=0), layer="below"))
        annotations.append(dict(x=(pending_from + duration) / 2, xref="x", y=0.97, yref="paper", showarrow=False,
                                text="analysing…", font=dict(size=11, color="#64748b")))
    if pred.found is False and not pred.segments:
        annotations.append(dict(x=0.5, xref="paper", y=0.75, yref="paper", showarrow=False,
                                text="<b>Not found</b>: no moment scored high enough",
                                font=dict(size=13, color="#b91c1c")))
    fig.update_layout(
        template="none", height=height, margin=dict(l=86, r=16, t=8, b=36),
        paper_bgcolor="white", plot_bgcolor="white", font=dict(family="Inter, system-ui, sans-serif", size=12,
                                                               color=INK),
        hovermode="closest", dragmode="zoom", bargap=0.25, barmode="overlay", showlegend=False,
        hoverlabel=dict(bgcolor="white", font_size=12),
        uirevision=revision or "timeline",
        xaxis=dict(range=[0, duration], anchor="y3", ticksuffix=" s", showgrid=True, gridcolor=GRID,
                   zeroline=False, showline=True, linecolor="#9ca3af", ticks="outside",
                   rangeslider=dict(visible=True, range=[0, duration], thickness=0.08, bgcolor="#f8fafc",
                                    bordercolor="#cbd5e1", borderwidth=1)),
        yaxis=dict(domain=[0.5, 1.0], type="category", categoryorder="array", categoryarray=rows[::-1] or [""],
                   range=[-0.5, num_rows - 0.5], fixedrange=True, showgrid=False, ticks="",
                   title=dict(text="", standoff=4)),
        yaxis2=dict(domain=[0.14, 0.44], range=[0, 1.05], fixedrange=True, showgrid=True, gridcolor=GRID,
                    tickvals=[0, 0.5, 1], title=dict(text="saliency", font=dict(size=11)), anchor="x"),
        yaxis3=dict(domain=[0.0, 0.08], range=[0, 1], fixedrange=True, showgrid=False, tickvals=[0.5],
                    ticktext=["frames"], anchor="x"),
        shapes=shapes, annotations=annotations,
    )
    return fig


def timeline_value(pred: Prediction | None, frame_times: Sequence[float] = (), top_k: int | None = None,
                   pending_from: float | None = None, revision: str | None = None) -> dict | None:
    """The value of the timeline component: {"figure": <plotly JSON>, "duration": s, "task": ...} or None."""
    if pred is None:
        return None
    fig = timeline_figure(pred, frame_times, top_k, pending_from=pending_from, revision=revision)
    return {"figure": json.loads(fig.to_json()), "duration": round(float(pred.duration), 3), "task": pred.task}


__all__ = ["format_time", "caption_lanes", "timeline_figure", "timeline_value"]
