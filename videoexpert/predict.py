"""The four tasks of DESIGN.md §1 on top of `VideoExpert.generate` and the temporal head.

The questions and answers are the model's own template version (`model.templates`, videoexpert.prompts).
Grounding and highlight detection teacher-force their fixed answer ("From [LOC].") and read the [LOC] state in the
same forward pass: with a trained model this equals greedy decoding of the template, and it cannot fail to
localise. A grounded QA answer is forced up to its evidence ("From [LOC].") and the choice is generated after it;
dense captions are generated whole.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from . import prompts
from .errors import InputError
from .head import decode_spans
from .result import TASKS, Prediction, Saliency, Segment

if TYPE_CHECKING:
    from .model import VideoExpert


def predict(model: "VideoExpert", video, task: str, query: str = "", options: list[str] | None = None, *,
            max_new_tokens: int = 128, temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
            max_bytes: int | None = None, max_duration: float | None = None,
            progress: Callable[[str], None] | None = None) -> Prediction:
    """`progress`, if given, is called with each stage name as it starts: "decoding" and "encoding" (only when
    `video` is not already `VideoFeatures`), "compressing" (Spatial Compress + projector), "reasoning" (LLM),
    "grounding" (temporal head)."""
    from .model import VideoFeatures

    progress = progress or (lambda stage: None)

    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    query = prompts.check_query(query, required=task != "captioning")
    options = [o for o in (options or []) if o and o.strip()] or None
    templates = model.templates
    prompt = prompts.chat_prompt(templates.question(task, query, options))   # bad input fails before decoding
    timings: dict[str, float] = {}
    if isinstance(video, VideoFeatures):
        features = video
    else:
        progress("decoding")
        start = time.perf_counter()
        clip = model.read_video(video, max_bytes=max_bytes, max_duration=max_duration)
        timings["decode"] = time.perf_counter() - start
        progress("encoding")
        start = time.perf_counter()
        features = model.encode_video(clip)
        timings["encode"] = time.perf_counter() - start
    progress("compressing")
    start = time.perf_counter()
    visual = model.video_tokens(features)
    timings["compress"] = time.perf_counter() - start
    sampling = dict(temperature=temperature, top_p=top_p, seed=seed, visual=visual)

    if model.config.time_format == "text":
        return _predict_text_times(model, features, task, query, options, prompt, timings, progress,
                                   max_new_tokens, sampling)
    progress("reasoning")
    start = time.perf_counter()
    forced = templates.forced_prefix(task)
    budget = 0 if task in ("grounding", "highlight") else max_new_tokens
    gen = model.generate(features, prompt, answer_prefix=forced, max_new_tokens=budget, **sampling)
    if task == "qa" and gen.loc_hidden.shape[0] == 0:   # older templates: the evidence follows the answer
        gen = model.generate(features, prompt, answer_prefix=templates.with_evidence(gen.text), max_new_tokens=0,
                             visual=visual)
    timings["generate"] = time.perf_counter() - start

    progress("grounding")
    start = time.perf_counter()
    duration, n = features.duration, features.num_frames
    decoded = []
    if gen.loc_hidden.shape[0]:
        head = model.ground(gen.t_hidden, gen.loc_hidden)
        cfg = model.config.head
        decoded = [decode_spans(head.foreground[i], head.spans[i], cfg.nms_threshold, cfg.max_segments)
                   for i in range(head.foreground.shape[0])]
    timings["ground"] = time.perf_counter() - start

    seconds = [[(s * duration, e * duration) for s, e in d.spans] for d in decoded]
    text = prompts.render_locs(gen.text, [spans[0] for spans in seconds], model.config.loc_token)
    choice = None
    if task in ("grounding", "highlight"):
        segments = [Segment(s, e, sc, query) for (s, e), sc in zip(seconds[0], decoded[0].scores)]
    elif task == "captioning":
        sentences = templates.caption_sentences(gen.text)
        segments = sorted((Segment(seconds[i][0][0], seconds[i][0][1], decoded[i].scores[0],
                                   sentences[i] if i < len(sentences) else "") for i in range(len(decoded))),
                          key=lambda s: (s.start, s.end))
    else:
        answer, choice = templates.qa_reply(gen.text, options)
        segments = [Segment(seconds[0][0][0], seconds[0][0][1], decoded[0].scores[0], answer)] if decoded else []
    curve = _saliency(decoded, n)
    times = tuple((i + 1) / n * duration for i in range(n)) if curve else ()
    return Prediction(task=task, query=query, duration=duration, num_frames=n, answer=gen.text, text=text,
                      segments=tuple(segments), saliency=Saliency(times, tuple(curve)), model=model.name,
                      timings_s=timings, choice=choice)


def _predict_text_times(model, features, task, query, options, prompt, timings, progress, max_new_tokens,
                        sampling) -> Prediction:
    """The "w/o temporal head" ablation: the LLM writes times as text; no [LOC], no saliency curve."""
    progress("reasoning")
    start = time.perf_counter()
    templates = model.templates
    prefix = templates.loc_word if task in ("grounding", "highlight") else ""
    budget = 12 if prefix else max_new_tokens
    gen = model.generate(features, prompt, answer_prefix=prefix, max_new_tokens=budget, **sampling)
    timings["generate"] = time.perf_counter() - start
    duration = features.duration
    spans = [(s * duration, e * duration) for s, e in prompts.parse_text_times(gen.text)]
    as_locs = prompts.text_times_to_locs(gen.text, model.config.loc_token)
    text = prompts.render_locs(as_locs, spans, model.config.loc_token)
    choice = None
    if task == "captioning":
        sentences = templates.caption_sentences(as_locs)
        segments = sorted((Segment(s, e, 1.0, sentences[i] if i < len(sentences) else "")
                           for i, (s, e) in enumerate(spans)), key=lambda seg: (seg.start, seg.end))
    elif task == "qa":
        answer, choice = templates.qa_reply(as_locs, options)
        segments = [Segment(spans[0][0], spans[0][1], 1.0, answer)] if spans else []
    else:
        segments = [Segment(spans[0][0], spans[0][1], 1.0, query)] if spans else []
    return Prediction(task=task, query=query, duration=duration, num_frames=features.num_frames, answer=gen.text,
                      text=text, segments=tuple(segments), model=model.name, timings_s=timings, choice=choice)


def _saliency(decoded, n: int) -> list[float]:
    """The foreground curve of the first [LOC]; for several (dense captions), their frame-wise maximum."""
    if not decoded:
        return []
    return [max(d.saliency[i] for d in decoded) for i in range(n)]
