"""Plain functions that turn a model description or a `Prediction` into the page's HTML and Markdown.

No gradio here: these are strings, tested as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from videoexpert import Prediction

from .timeline import format_time

TASK_TITLES = {"grounding": "Find a moment", "highlight": "Highlights", "captioning": "Dense captions",
               "qa": "Ask"}
STAGE_NAMES = {"decode": "decode", "encode": "encode", "compress": "compress", "generate": "LLM", "ground": "grounding"}


@dataclass(frozen=True)
class ModelInfo:
    """What the header says about the loaded model."""

    name: str
    description: str
    device: str
    profile: str
    num_frames: int
    source: str
    untrained: bool = False


def header_html(info: ModelInfo) -> str:
    warn = ""
    if info.untrained:
        warn = ('<div class="vx-warn" role="alert"><b>Untrained model.</b> No trained VideoExpert was found, so '
                f'the app runs the <code>{escape(info.source)}</code> preset with random weights: its segments, '
                'captions and answers are arbitrary and mean nothing. Start the app with '
                '<code>--model PATH</code> (or set <code>VIDEOEXPERT_MODEL</code>) to load a trained model.</div>')
    return (
        '<div class="vx-header">'
        '<div class="vx-brand"><span class="vx-logo">▶</span><div><h1>VideoExpert Studio</h1>'
        '<p>Ask a video <i>when</i> something happens: the answer is a set of time segments on a timeline wired '
        'to the player.</p></div></div>'
        '<div class="vx-model">'
        f'<div><span class="vx-k">model</span><b>{escape(info.name)}</b></div>'
        f'<div><span class="vx-k">device</span>{escape(info.device)} · {escape(info.profile)} profile</div>'
        f'<div><span class="vx-k">input</span>{info.num_frames} frames per video</div>'
        f'<div class="vx-desc">{escape(info.description)}</div>'
        '</div></div>' + warn
    )


def moments_html(pred: Prediction | None, top_k: int | None = None) -> str:
    """The ranked moments ("▶ 00:12.3 – 00:18.9 · 0.91 · label"); each item seeks the player when clicked."""
    if pred is None:
        return '<div class="vx-moments-empty">Moments appear here after a run.</div>'
    segments = list(pred.segments)
    if pred.task == "highlight" and top_k:
        segments = segments[:top_k]
    if not segments:
        if pred.found is False:
            return ('<div class="vx-moments-empty vx-not-found"><b>Not found.</b> No moment of this video scored '
                    'high enough to count as an answer.</div>')
        return '<div class="vx-moments-empty">The model localised no moment in this video.</div>'
    heading = "In temporal order" if pred.task == "captioning" else "Ranked, best first"
    items = []
    for rank, seg in enumerate(segments, start=1):
        label = escape(seg.label) if seg.label else "<i>(no label)</i>"
        items.append(
            f'<li><button type="button" class="vx-moment" data-start="{seg.start:.3f}" data-end="{seg.end:.3f}" '
            f'title="Play from {format_time(seg.start)}">'
            f'<span class="vx-rank">{rank}</span><span class="vx-play">▶</span>'
            f'<span class="vx-time">{format_time(seg.start)} – {format_time(seg.end)}</span>'
            f'<span class="vx-score">{seg.score:.2f}</span><span class="vx-label">{label}</span></button></li>')
    return f'<div class="vx-moments-head">{heading}</div><ol class="vx-moments">{"".join(items)}</ol>'


def answer_markdown(pred: Prediction, options: list[str] | None = None, windows_done: int | None = None,
                    analysed_until: float = 0.0) -> str:
    """The answer panel: the model's text with time ranges, and for multiple choice the chosen option. A long
    video's partial answer says how far it got (`windows_done` windows, up to `analysed_until` seconds); a final
    one says plainly when nothing was found."""
    title = TASK_TITLES[pred.task]
    lines = [f"**{title}**" + (f" · _{pred.query}_" if pred.query else "")]
    if windows_done is not None:
        lines.append(f"⏳ _Partial answer: {windows_done} of {pred.windows} windows analysed "
                     f"(up to {format_time(analysed_until)}); it may change as the rest comes in._")
    if pred.found is False and windows_done is None and pred.task != "qa":
        lines.append(f"❌ **Not found** anywhere in the {format_time(pred.duration)} of video "
                     f"({pred.windows} windows).")
    if pred.task == "qa" and options:
        for i, option in enumerate(options):
            mark = "✅" if pred.choice == i else "▫️"
            lines.append(f"{mark} **{chr(65 + i)}.** {option}")
        if pred.choice is None:
            lines.append("_The answer matches none of the options._")
    text = pred.text.strip() or "_(empty answer)_"
    lines.append(f"> {text}")
    top = pred.top
    if pred.task == "qa" and pred.found is False:
        lines.append("_The question matched no moment of the video well; the answer comes from the closest one._")
    if top is not None and pred.task != "captioning":
        lines.append(f"Best moment: **{format_time(top.start)} – {format_time(top.end)}** (score {top.score:.2f})")
    elif pred.task == "captioning":
        lines.append(f"{len(pred.segments)} timed caption(s).")
    return "\n\n".join(lines)


def status_markdown(pred: Prediction, cache_hit: bool, cache_size: int, cache_capacity: int,
                    reused: int | None = None) -> str:
    """Timings per stage and whether decoding and encoding came from the feature cache. `reused`: for a long
    video, how many of its windows were already encoded when the question came."""
    parts = [f"{STAGE_NAMES.get(k, k)} {v:.2f} s" for k, v in pred.timings_s.items()]
    total = sum(pred.timings_s.values())
    if pred.windows is not None and cache_hit and reused == pred.windows:
        source = f"all {pred.windows} windows **from cache** (decoding and encoding skipped)"
    elif pred.windows is not None and cache_hit:
        source = f"{reused or 0} of {pred.windows} windows **from cache**, the rest computed and cached"
    elif pred.windows is not None:
        source = f"{pred.windows} windows computed and cached"
    else:
        source = ("features **from cache** (decoding and encoding skipped)" if cache_hit
                  else "features computed and cached")
    return (f"Timings: {' · '.join(parts)} · **total {total:.2f} s** — {source} "
            f"({cache_size}/{cache_capacity} videos cached) · model `{pred.model}`")


def partial_status_markdown(pred: Prediction, windows_done: int, analysed_until: float) -> str:
    """The status line while a long video's windows are still being answered."""
    return (f"Window {windows_done}/{pred.windows} done: a partial answer over the first "
            f"{format_time(analysed_until)} of {format_time(pred.duration)}; the rest is being analysed… "
            f"· model `{pred.model}`")


__all__ = ["ModelInfo", "TASK_TITLES", "header_html", "moments_html", "answer_markdown", "status_markdown",
           "partial_status_markdown"]
