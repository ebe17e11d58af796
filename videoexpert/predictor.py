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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from . import prompts
from .factory import load_model
from .head import decode_spans
from .model import VideoExpert
from .result import Prediction, Saliency
from .runtime import RuntimeProfile
from .spans import frame_seconds
from .tasks import LocSpans, get_task
from .video import VideoClip, read_video

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

    @property
    def num_frames(self) -> int:
        return self.cls_tokens.shape[0]

    def to(self, device: str | torch.device) -> "VideoFeatures":
        return VideoFeatures(self.cls_tokens.to(device), self.patch_tokens.to(device), self.times, self.duration,
                             self.source, dict(self.timings_s))


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
               max_duration: float | None = None, progress: Progress | None = None) -> VideoFeatures:
        """Decode (given a path) and run the vision tower; the features keep the time each step took."""
        report = progress or (lambda stage: None)
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

    # ------------------------------------------------------------------ features -> answer
    @torch.no_grad()
    def visual_tokens(self, features: VideoFeatures) -> torch.Tensor:
        """Spatial Compress + projector for one encoded video: (1, n + u*w, d_llm), computed once per question."""
        model, dtype = self.model, self.model.vision.dtype
        return model.visual_tokens(features.cls_tokens[None].to(model.device, dtype),
                                   features.patch_tokens[None].to(model.device, dtype))

    @torch.no_grad()
    def predict(self, video: str | Path | VideoClip | VideoFeatures, task: str, query: str = "",
                options: list[str] | None = None, *, max_new_tokens: int = 128, temperature: float = 0.0,
                top_p: float = 1.0, seed: int | None = None, max_bytes: int | None = None,
                max_duration: float | None = None, progress: Progress | None = None) -> Prediction:
        """Answer one question about a video (a path, a decoded `VideoClip` or cached `VideoFeatures`). The
        result's `timings_s` include decoding and encoding when this call did them."""
        report = progress or (lambda stage: None)
        spec = get_task(task)
        query = prompts.check_query(query, required=spec.needs_query)
        options = [o for o in (options or []) if o and o.strip()] or None
        model, templates = self.model, self.model.templates
        prompt = prompts.chat_prompt(templates.question(task, query, options))   # bad input fails before decoding
        timings: dict[str, float] = {}
        features = video
        if not isinstance(video, VideoFeatures):
            features = self.encode(video, max_bytes=max_bytes, max_duration=max_duration, progress=report)
            timings.update(features.timings_s)

        report("compressing")
        start = time.perf_counter()
        visual = _wait_for(self.visual_tokens(features))
        timings["compress"] = time.perf_counter() - start
        sampling = dict(temperature=temperature, top_p=top_p, seed=seed)
        read = self._text_times_reply if model.config.time_format == "text" else self._head_reply
        reply = read(visual, features, spec, prompt, max_new_tokens, sampling, timings, report)

        choice, answer, sentences = None, "", None
        if spec.grounds == "sentence":
            sentences = templates.caption_sentences(reply.loc_text)
        elif spec.grounds == "answer":
            answer, choice = templates.qa_reply(reply.loc_text, options)
        segments = spec.segments(query, reply.locs, sentences, answer)
        text = prompts.render_locs(reply.loc_text, [loc.spans[0] for loc in reply.locs], model.config.loc_token)
        n = features.num_frames
        times = frame_seconds(n, features.duration) if reply.saliency else ()
        return Prediction(task=task, query=query, duration=features.duration, num_frames=n, answer=reply.answer,
                          text=text, segments=tuple(segments), saliency=Saliency(times, tuple(reply.saliency)),
                          model=model.name, timings_s=timings, choice=choice)

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


def _wait_for(t: torch.Tensor) -> torch.Tensor:
    """Wait until the GPU has computed `t`: CUDA kernels run asynchronously, and each stage's timing (decode, encode,
    compress, LLM) must be its own. Once per stage per question; nothing on the CPU."""
    if t.is_cuda:
        torch.cuda.synchronize(t.device)
    return t


__all__ = ["Predictor", "VideoFeatures"]
