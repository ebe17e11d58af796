"""Video -> features -> answer: the four tasks of DESIGN.md §1 on top of a `VideoExpert`, with timings and progress.

    predictor = Predictor.from_pretrained()                       # the shipped demo model, or a path / preset
    features = predictor.encode("video.mp4")                      # decode + vision tower, once per video
    pred = predictor.predict(features, "grounding", "the red circle moves left")

The questions and answers are the model's own template version (`model.templates`, videoexpert.prompts); what
each task asks and grounds is data (`videoexpert.tasks`). A reply is read by one of two decoding strategies:

* the temporal head (the paper's model): grounding and highlight detection teacher-force their fixed answer
  ("From [LOC].") and read the [LOC] state in the same forward pass (with a trained model this equals greedy
  decoding of the template, and it cannot fail to localise); a QA answer is forced up to its evidence and the
  choice generated after it; dense captions are generated whole. Each [LOC] state goes through the head;
* times as text (the "w/o temporal head" ablation, `config.time_format == "text"`): the LLM writes "3 to 7"
  where [LOC] would be; no saliency curve.

Long videos (longer than `config.windows.seconds`) are answered window by window (videoexpert.windows): `encode`
returns `WindowedFeatures`, decoded as a stream and encoded a window at a time (the next window decodes while this
one is encoded), and `predict` merges the windows' answers in global time: one saliency curve, candidates
re-ranked with temporal NMS, the best re-grounded at twice the frame rate, every moment above
`windows.min_score` (or an explicit "not found"), captions de-duplicated across window edges, a question answered
on the window that grounds it best. A video no longer than one window is the single pass it always was.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import torch

from . import prompts
from .factory import load_model
from .head import decode_spans
from .errors import VideoDecodeError
from .model import VideoExpert
from .result import Prediction, Saliency, Segment
from .runtime import RuntimeProfile
from .spans import Span, frame_seconds
from .tasks import LocSpans, get_task
from .video import VideoClip, VideoInfo, iter_window_clips, probe_video, read_video
from .windows import merge_captions, merge_ranked, merge_saliency, plan_windows, shift

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class VideoFeatures:
    """A video encoded once by the frozen vision tower; ask many questions about it without re-encoding."""

    cls_tokens: torch.Tensor        # (n, d_v)
    patch_tokens: torch.Tensor      # (n, p, d_v)
    times: tuple[float, ...]        # real time (s) of each sampled frame
    duration: float                 # seconds
    source: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)   # how long decoding and encoding took
    start: float = 0.0              # where these frames' span begins in the video (a window of a long one)

    @property
    def num_frames(self) -> int:
        return self.cls_tokens.shape[0]

    def to(self, device: str | torch.device) -> "VideoFeatures":
        return VideoFeatures(self.cls_tokens.to(device), self.patch_tokens.to(device), self.times, self.duration,
                             self.source, dict(self.timings_s), self.start)


class WindowedFeatures:
    """A long video as overlapping windows (`spans`, seconds), each encoded once, when first needed: iterating
    decodes and encodes the windows not encoded yet (as a stream, the next window decoding in a background thread
    while this one is encoded) and hands out the cached ones again. Safe to share between threads (an app's
    sessions): one thread encodes at a time, the others wait for its windows. `encode_span` encodes any other
    span of the video (the coarse-to-fine pass) and keeps it too."""

    def __init__(self, spans: list[Span], info: VideoInfo, clips: Iterator[VideoClip],
                 encode_clip: Callable[[VideoClip], VideoFeatures], read_span: Callable[[Span], VideoClip]) -> None:
        self.spans = spans
        self.info = info
        self.source = info.path
        self.timings_s: dict[str, float] = {"decode": 0.0, "encode": 0.0}
        self.windows: list[VideoFeatures] = []
        self.extra: dict[Span, VideoFeatures] = {}
        self._clips = _prefetch(clips)
        self._encode_clip, self._read_span = encode_clip, read_span
        self._lock = threading.Lock()

    @property
    def duration(self) -> float:
        return self.info.duration

    @property
    def complete(self) -> bool:
        return len(self.windows) == len(self.spans)

    @property
    def num_frames(self) -> int:
        return sum(w.num_frames for w in self.windows)

    @property
    def times(self) -> tuple[float, ...]:
        """The sampled frames' times over the whole video, each from the window that owns it (as the saliency)."""
        done = self.spans[:len(self.windows)]
        return merge_saliency(done, [(w.times, w.times) for w in self.windows])[0] if done else ()

    def to(self, device: str | torch.device) -> "WindowedFeatures":
        """The windows stay where the model encoded them (on the model's device, for the questions to come)."""
        return self

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[VideoFeatures]:
        for k in range(len(self.spans)):
            yield self.window(k)

    def window(self, k: int) -> VideoFeatures:
        """Window k's features, decoding and encoding every window up to it that is not encoded yet."""
        with self._lock:
            while len(self.windows) <= k:
                start = time.perf_counter()
                clip = next(self._clips)
                self.timings_s["decode"] += time.perf_counter() - start   # waiting for the decoder thread
                span = self.spans[len(self.windows)]
                features = replace(self._encode_clip(clip), start=span[0], duration=span[1] - span[0])
                self.timings_s["encode"] += features.timings_s["encode"]
                self.windows.append(features)
            return self.windows[k]

    def encode_span(self, span: Span) -> VideoFeatures:
        with self._lock:
            if span not in self.extra:
                features = self._encode_clip(self._read_span(span))
                self.extra[span] = replace(features, start=span[0], duration=span[1] - span[0])
            return self.extra[span]


@dataclass
class _Reply:
    """A reply read by a decoding strategy: the text with [LOC] placeholders and what each [LOC] grounds."""

    answer: str                     # what the model wrote
    loc_text: str                   # the reply with a [LOC] where each time is
    locs: list[LocSpans]
    saliency: list[float]           # per sampled frame; empty without a temporal head


class Predictor:
    """Answers questions about videos with one loaded `VideoExpert`; owns decoding, encoding, timings and progress.

    `progress`, where a method takes it, is called with each stage's name as it starts: "decoding", "encoding",
    "compressing" (Spatial Compress + projector), "reasoning" (LLM), "grounding" (temporal head)."""

    def __init__(self, model: VideoExpert) -> None:
        self.model = model

    @classmethod
    def from_pretrained(cls, source: str | None = None, profile: str | RuntimeProfile | None = None,
                        device: str | None = None) -> "Predictor":
        """A saved model directory or preset name (None: $VIDEOEXPERT_MODEL, else the shipped demo model) under a
        runtime profile ("auto", "cuda", "cuda-bf16", "cpu"; DESIGN.md §3)."""
        return cls(load_model(source, profile=profile, device=device))

    @property
    def name(self) -> str:
        return self.model.name

    # ------------------------------------------------------------------ video -> features
    def read_video(self, path: str | Path, max_bytes: int | None = None,
                   max_duration: float | None = None) -> VideoClip:
        """The model's frames of a video file (its frame count and size), refused beyond the limits given."""
        config = self.model.config
        return read_video(path, config.num_frames, config.vision.image_size, max_bytes=max_bytes,
                          max_duration=max_duration)

    @torch.no_grad()
    def encode(self, video: str | Path | VideoClip, *, max_bytes: int | None = None,
               max_duration: float | None = None, progress: Progress | None = None,
               windowed: bool | None = None, lazy: bool = False) -> VideoFeatures | WindowedFeatures:
        """Decode (given a path) and run the vision tower; the features keep the time each step took.

        windowed: None (default) answers a video longer than `config.windows.seconds` window by window
        (`WindowedFeatures`) and a shorter one in a single pass (`VideoFeatures`); True and False force either.
        lazy (windows only): return at once and encode each window when a question first needs it, so that answers
        can appear as windows finish; else every window is encoded here (reporting "window k/n")."""
        report = progress or (lambda stage: None)
        if not isinstance(video, VideoClip) and windowed is not False:
            info = probe_video(video, max_bytes=max_bytes)
            _check_duration(info, max_duration)
            if windowed or info.duration > self.model.config.windows.seconds:
                features = self._windowed(info)
                if not lazy:
                    for k, _ in enumerate(features):
                        report(f"window {k + 1}/{len(features)}")
                return features
        timings = {}
        if isinstance(video, VideoClip):
            clip = video
        else:
            report("decoding")
            start = time.perf_counter()
            clip = self.read_video(video, max_bytes=max_bytes, max_duration=max_duration)
            timings["decode"] = time.perf_counter() - start
        report("encoding")
        start = time.perf_counter()
        cls_tokens, patch_tokens = self.model.encode_frames(clip.frames)
        _wait_for(cls_tokens)
        timings["encode"] = time.perf_counter() - start
        return VideoFeatures(cls_tokens, patch_tokens, clip.times, clip.info.duration, clip.info.path, timings)

    def _windowed(self, info: VideoInfo) -> WindowedFeatures:
        config = self.model.config
        cfg, size = config.windows, config.vision.image_size
        spans = plan_windows(info.duration, cfg.seconds, cfg.overlap)
        clips = iter_window_clips(info, spans, config.num_frames, size)

        def read_span(span: Span) -> VideoClip:
            return next(iter_window_clips(info, [span], config.num_frames, size))

        return WindowedFeatures(spans, info, clips, self.encode, read_span)

    # ------------------------------------------------------------------ features -> answer
    @torch.no_grad()
    def visual_tokens(self, features: VideoFeatures) -> torch.Tensor:
        """Spatial Compress + projector for one encoded video: (1, n + u*w, d_llm), computed once per question."""
        model, dtype = self.model, self.model.vision.dtype
        return model.visual_tokens(features.cls_tokens[None].to(model.device, dtype),
                                   features.patch_tokens[None].to(model.device, dtype))

    @torch.no_grad()
    def predict(self, video: str | Path | VideoClip | VideoFeatures | WindowedFeatures, task: str, query: str = "",
                options: list[str] | None = None, *, max_new_tokens: int = 128, temperature: float = 0.0,
                top_p: float = 1.0, seed: int | None = None, max_bytes: int | None = None,
                max_duration: float | None = None, progress: Progress | None = None, windowed: bool | None = None,
                on_partial: Callable[[Prediction], None] | None = None) -> Prediction:
        """Answer one question about a video (a path, a decoded `VideoClip` or cached features). The result's
        `timings_s` include decoding and encoding when this call did them. `windowed` as in `encode`; for a long
        video, `on_partial` is given the answer merged over the windows done so far, after each window."""
        report = progress or (lambda stage: None)
        spec = get_task(task)
        query = prompts.check_query(query, required=spec.needs_query)
        options = [o for o in (options or []) if o and o.strip()] or None
        prompts.chat_prompt(self.model.templates.question(task, query, options))   # bad input fails before decoding
        ask = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
        features = video
        if not isinstance(video, (VideoFeatures, WindowedFeatures)):
            features = self.encode(video, max_bytes=max_bytes, max_duration=max_duration, progress=report,
                                   windowed=windowed, lazy=True)
        if isinstance(features, WindowedFeatures):
            return self._predict_windows(features, task, query, options, ask, report, on_partial)
        timings = dict(features.timings_s) if features is not video else {}
        return self._predict_features(features, task, query, options, ask, timings, report)

    def _predict_features(self, features: VideoFeatures, task: str, query: str, options: list[str] | None,
                          ask: dict, timings: dict[str, float], report: Progress) -> Prediction:
        """One question on one encoded span of 100 frames (a whole short video, or a window of a long one)."""
        spec, model, templates = get_task(task), self.model, self.model.templates
        prompt = prompts.chat_prompt(templates.question(task, query, options))
        report("compressing")
        start = time.perf_counter()
        visual = _wait_for(self.visual_tokens(features))
        timings["compress"] = time.perf_counter() - start
        sampling = dict(temperature=ask["temperature"], top_p=ask["top_p"], seed=ask["seed"])
        read = self._text_times_reply if model.config.time_format == "text" else self._head_reply
        reply = read(visual, features, spec, prompt, ask["max_new_tokens"], sampling, timings, report)

        choice, answer, sentences = None, "", None
        if spec.grounds == "sentence":
            sentences = templates.caption_sentences(reply.loc_text)
        elif spec.grounds == "answer":
            answer, choice = templates.qa_reply(reply.loc_text, options)
        segments = spec.segments(query, reply.locs, sentences, answer)
        text = prompts.render_locs(reply.loc_text, [loc.spans[0] for loc in reply.locs], model.config.loc_token)
        n = features.num_frames
        times = frame_seconds(n, features.duration) if reply.saliency else ()
        if features.start:   # a window of a long video: its times in the video's
            segments = [shift(seg, features.start) for seg in segments]
            times = tuple(t + features.start for t in times)
        return Prediction(task=task, query=query, duration=features.duration, num_frames=n, answer=reply.answer,
                          text=text, segments=tuple(segments), saliency=Saliency(times, tuple(reply.saliency)),
                          model=model.name, timings_s=timings, choice=choice)

    def _predict_windows(self, features: WindowedFeatures, task: str, query: str, options: list[str] | None,
                         ask: dict, report: Progress, on_partial: Callable[[Prediction], None] | None) -> Prediction:
        """Every window answers on its own frames; their answers merge in global time. A question (QA) is first
        grounded in every window and answered on the window that grounds it best."""
        timings: dict[str, float] = {}
        per_window: list[Prediction] = []
        window_task = "grounding" if task == "qa" else task
        for k in range(len(features)):
            report(f"window {k + 1}/{len(features)}")
            window = features.window(k)
            per_window.append(self._predict_features(window, window_task, query, None, ask, {}, lambda stage: None))
            for key, value in per_window[-1].timings_s.items():
                timings[key] = timings.get(key, 0.0) + value
            if on_partial is not None and k + 1 < len(features) and task != "qa":
                on_partial(self._merge(features, task, query, per_window, timings, refine=False))
        if task == "qa":
            best = max(range(len(per_window)), key=lambda k: per_window[k].top.score if per_window[k].top else -1.0)
            answer = self._predict_features(features.window(best), "qa", query, options, ask, {}, lambda stage: None)
            for key, value in answer.timings_s.items():
                timings[key] = timings.get(key, 0.0) + value
            return self._merge_qa(features, per_window, answer, timings)
        report("refining")
        return self._merge(features, task, query, per_window, timings, refine=True, ask=ask)

    def _merge(self, features: WindowedFeatures, task: str, query: str, per_window: list[Prediction],
               timings: dict[str, float], refine: bool, ask: dict | None = None) -> Prediction:
        """The windows answered so far as one answer over the whole video."""
        cfg, head, loc = self.model.config.windows, self.model.config.head, self.model.config.loc_token
        spans = features.spans[:len(per_window)]
        times, scores = merge_saliency(spans, [(p.saliency.times, p.saliency.scores) for p in per_window])
        found: bool | None = None
        if task == "captioning":
            segments = merge_captions(spans, [p.segments for p in per_window])
            text = " ".join(f"{prompts.render_locs(loc, [(s.start, s.end)], loc)}: {s.label}" for s in segments)
        else:
            candidates = [seg for p in per_window for seg in p.segments]
            if refine and cfg.refine:
                candidates = self._refine(features, task, query, candidates, ask or {})
            segments = merge_ranked(candidates, head.nms_threshold, len(candidates), cfg.min_score)
            found = bool(segments)
            text = _found_text(segments, candidates, cfg.min_score, loc)
        return Prediction(task=task, query=query, duration=features.duration, num_frames=features.num_frames,
                          answer="\n".join(p.answer for p in per_window), text=text, segments=tuple(segments),
                          saliency=Saliency(times, scores), model=self.model.name,
                          timings_s={**features.timings_s, **timings}, found=found, windows=len(features))

    def _refine(self, features: WindowedFeatures, task: str, query: str, candidates: list[Segment],
                ask: dict) -> list[Segment]:
        """Coarse to fine: the best candidates re-grounded in a window of half the length centred on each (twice
        the frame rate); the refined span replaces the coarse one where it overlaps it."""
        cfg = self.model.config.windows
        length = cfg.seconds / 2
        if features.duration <= length:
            return candidates
        best = merge_ranked(candidates, self.model.config.head.nms_threshold, cfg.refine)
        refined = list(candidates)
        for seg in best:
            middle = (seg.start + seg.end) / 2
            start = min(max(0.0, middle - length / 2), features.duration - length)
            span = (round(start, 3), round(start + length, 3))
            fine = self._predict_features(features.encode_span(span), task, query, None, ask, {}, lambda stage: None)
            overlapping = [s for s in fine.segments if min(s.end, seg.end) > max(s.start, seg.start)]
            if overlapping:
                refined[refined.index(seg)] = overlapping[0]
        return refined

    def _merge_qa(self, features: WindowedFeatures, per_window: list[Prediction], answer: Prediction,
                  timings: dict[str, float]) -> Prediction:
        cfg = self.model.config.windows
        spans = features.spans
        times, scores = merge_saliency(spans, [(p.saliency.times, p.saliency.scores) for p in per_window])
        grounded = max((p.top.score for p in per_window if p.top), default=0.0)
        return replace(answer, duration=features.duration, num_frames=features.num_frames,
                       saliency=Saliency(times, scores), timings_s={**features.timings_s, **timings},
                       found=grounded >= cfg.min_score, windows=len(features))

    def _head_reply(self, visual, features, spec, prompt, max_new_tokens, sampling, timings, report) -> _Reply:
        """The temporal head reads each [LOC]; the saliency curve is the first [LOC]'s foreground probability
        (for several, dense captions, their frame-wise maximum)."""
        model, templates = self.model, self.model.templates
        report("reasoning")
        start = time.perf_counter()
        gen = model.generate(visual, prompt, answer_prefix=templates.forced_prefix(spec.name),
                             max_new_tokens=max_new_tokens if spec.generates else 0, **sampling)
        if spec.grounds == "answer" and gen.loc_hidden.shape[0] == 0:   # older templates: evidence after the answer
            gen = model.generate(visual, prompt, answer_prefix=templates.with_evidence(gen.text), max_new_tokens=0)
        timings["generate"] = time.perf_counter() - start

        report("grounding")
        start = time.perf_counter()
        locs, curves = [], []
        if gen.loc_hidden.shape[0]:
            head = model.ground(gen.t_hidden, gen.loc_hidden)
            cfg, duration = model.config.head, features.duration
            for i in range(head.foreground.shape[0]):
                decoded = decode_spans(head.foreground[i], head.spans[i], cfg.nms_threshold, cfg.max_segments)
                locs.append(LocSpans(tuple((s * duration, e * duration) for s, e in decoded.spans),
                                     tuple(decoded.scores)))
                curves.append(decoded.saliency)
        timings["ground"] = time.perf_counter() - start
        saliency = [max(values) for values in zip(*curves)] if curves else []
        return _Reply(gen.text, gen.text, locs, saliency)

    def _text_times_reply(self, visual, features, spec, prompt, max_new_tokens, sampling, timings, report) -> _Reply:
        """The LLM writes times as text ("From 3 to 7."); each becomes a [LOC] with one span of score 1."""
        model = self.model
        report("reasoning")
        start = time.perf_counter()
        prefix = "" if spec.generates else model.templates.loc_word
        budget = max_new_tokens if spec.generates else 12
        gen = model.generate(visual, prompt, answer_prefix=prefix, max_new_tokens=budget, **sampling)
        timings["generate"] = time.perf_counter() - start
        duration = features.duration
        locs = [LocSpans(((s * duration, e * duration),), (1.0,)) for s, e in prompts.parse_text_times(gen.text)]
        return _Reply(gen.text, prompts.text_times_to_locs(gen.text, model.config.loc_token), locs, [])


def _found_text(segments: list[Segment], candidates: list[Segment], min_score: float, loc: str) -> str:
    """What a long video's grounding says: every moment found, or plainly that none scored high enough."""
    def when(seg: Segment) -> str:
        return prompts.render_locs(loc, [(seg.start, seg.end)], loc)

    if segments:
        more = f" Also {', '.join(when(s) for s in segments[1:])}." if len(segments) > 1 else ""
        return f"From {when(segments[0])}.{more}"
    if not candidates:
        return "Not found."
    best = max(candidates, key=lambda s: s.score)
    return (f"Not found: no moment scores {min_score:.2f} or more "
            f"(the closest, {when(best)}, scores {best.score:.2f}).")


def _check_duration(info: VideoInfo, max_duration: float | None) -> None:
    if max_duration is not None and info.duration > max_duration:
        raise VideoDecodeError(f"video is {info.duration:.0f} s long, over the limit of {max_duration:.0f} s")


def _prefetch(items: Iterator[VideoClip]) -> Iterator[VideoClip]:
    """`items` produced one ahead in a background thread: the next window decodes while this one is encoded
    (decoders and torch release the GIL). An error in the producer is raised where the item was due."""
    slot: queue.Queue = queue.Queue(maxsize=1)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                slot.put(item)
            slot.put(done)
        except BaseException as e:   # handed to the consumer
            slot.put(e)

    thread: threading.Thread | None = None
    while True:
        if thread is None:
            thread = threading.Thread(target=produce, name="videoexpert-decode", daemon=True)
            thread.start()
        item = slot.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _wait_for(t: torch.Tensor) -> torch.Tensor:
    """Wait until the GPU has computed `t`: CUDA kernels run asynchronously, and each stage's timing (decode, encode,
    compress, LLM) must be its own. Once per stage per question; nothing on the CPU."""
    if t.is_cuda:
        torch.cuda.synchronize(t.device)
    return t


__all__ = ["Predictor", "VideoFeatures"]
