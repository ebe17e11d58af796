"""The app's event handlers: plain methods of `Studio`, which holds one `Predictor`, its feature cache and the
app's limits. Each model handler returns the same outputs, in this order:

    result (DESIGN.md §5 dict), answer (Markdown), timeline (figure value), moments (HTML), files, status

Errors reach the user in exactly one place, `user_errors`: a `VideoExpertError` becomes `gr.Error(message)`,
anything unexpected is logged with its traceback and shown as a one-line error, never a stack trace.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from videoexpert import (FeatureCache, InputError, Prediction, Predictor, VideoExpertError, VideoFeatures, content_hash,
                         write_clip, write_highlight_reel, write_json, write_subtitles)

from .timeline import timeline_value
from .views import ModelInfo, answer_markdown, moments_html, status_markdown

logger = logging.getLogger(__name__)

ZERO_GPU = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
GPU_DURATION_S = 120  # ZeroGPU budget per call: encoding 100 frames + one LLM answer


def gpu(fn: Callable) -> Callable:
    """`@spaces.GPU` when the `spaces` package is installed (a no-op outside ZeroGPU), else `fn` itself."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=GPU_DURATION_S)(fn)


# progress fraction and the name shown for each stage the package reports
STAGES = {
    "hashing": (0.02, "Hashing the file"),
    "decoding": (0.08, "Decoding frames"),
    "encoding": (0.35, "Encoding frames (vision tower)"),
    "compressing": (0.5, "Compressing tokens (Spatial Compress)"),
    "reasoning": (0.6, "Reasoning (LLM)"),
    "grounding": (0.9, "Grounding ([LOC] head)"),
}


_TITLES = {"InputError": "Check the input", "VideoDecodeError": "Cannot use this video",
           "CheckpointError": "Model error", "ResultSchemaError": "Malformed result"}


def user_errors(fn: Callable) -> Callable:
    """The one place where errors become UI messages."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except VideoExpertError as e:
            raise gr.Error(str(e), title=_TITLES.get(type(e).__name__, "Error"), print_exception=False) from e
        except Exception as e:  # a bug: log it whole, show one line
            logger.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Unexpected {type(e).__name__}: {e}. The details are in the server log.",
                           title="Internal error") from e
    return wrapper


@dataclass(frozen=True)
class Limits:
    """Upload limits. The same numbers go to `launch(max_file_size=...)` and to the decoder."""

    max_duration_s: float | None = 600.0
    max_file_size: int | None = 500 * 2**20


def upload_roots() -> list[Path]:
    """Where Gradio puts uploads and files it serves (its temp dir, as `gradio.utils.get_upload_folder`)."""
    gradio_tmp = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return [Path(gradio_tmp).resolve()]


def default_cache_dir() -> Path:
    return Path(os.environ.get("VIDEOEXPERT_CACHE_DIR") or Path(tempfile.gettempdir()) / "videoexpert-studio")


class Studio:
    """Handlers bound to one predictor. The feature cache is shared by every session (a cache, not user data)."""

    def __init__(self, predictor: Predictor, info: ModelInfo, *, limits: Limits = Limits(),
                 cache: FeatureCache | None = None, cache_dir: str | Path | None = None,
                 extra_roots: list[str | Path] = ()) -> None:
        self.predictor = predictor
        self.info = info
        self.limits = limits
        self.cache = cache or FeatureCache(8)
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.roots = upload_roots() + [self.cache_dir.resolve()] + [Path(r).resolve() for r in extra_roots]
        self._infer = gpu(self._infer_on_device)

    # ------------------------------------------------------------------------------------------ core
    def checked_path(self, video: Any) -> Path:
        """The uploaded file's path, refused when missing, outside Gradio's/the app's dirs, or too large."""
        if not video:
            raise gr.Error("Upload a video first (or pick an example).", title="No video")
        path = Path(video["path"] if isinstance(video, dict) else video).resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            logger.warning("refused a video outside the upload dirs: %s", path)
            raise gr.Error("That file is not an upload of this app.", title="Refused")
        if not path.is_file():
            raise gr.Error(f"The uploaded file {path.name} is gone; upload it again.", title="No video")
        size, limit = path.stat().st_size, self.limits.max_file_size
        if limit is not None and size > limit:
            raise gr.Error(f"The video is {size / 2**20:.0f} MiB, over this app's limit of {limit / 2**20:.0f} MiB.",
                           title="Video too large")
        return path

    def _infer_on_device(self, video, task: str, query: str, options: list[str] | None,
                         report: Callable[[str], None] | None) -> tuple[VideoFeatures, Prediction]:
        """Encode (when given a decoded clip) and predict. The only code that needs the GPU: under ZeroGPU it
        runs in a worker process, so it returns features on the CPU for the cache in the main process."""
        features = video if isinstance(video, VideoFeatures) else self.predictor.encode(video, progress=report)
        pred = self.predictor.predict(features, task, query, options=options, progress=report)
        return features.to("cpu"), pred

    def analyse(self, video: Any, task: str, query: str = "", options: list[str] | None = None,
                progress: Callable | None = None) -> tuple[Prediction, VideoFeatures, bool]:
        """(prediction, features, cache hit): decode and encode only the first time a file's bytes are seen."""
        def report(stage: str) -> None:
            if progress is not None and stage in STAGES:
                fraction, desc = STAGES[stage]
                progress(fraction, desc=desc)

        path = self.checked_path(video)
        if task != "captioning" and not (query or "").strip():
            raise InputError("Type what to look for first: the query is empty.")
        report("hashing")
        key = content_hash(path)
        cached = self.cache.get(key)
        hit = cached is not None
        if hit:
            video_or_features = cached
        else:
            report("decoding")
            start = time.perf_counter()
            video_or_features = self.predictor.read_video(path, max_bytes=self.limits.max_file_size,
                                                          max_duration=self.limits.max_duration_s)
            decode_s = time.perf_counter() - start
        features, pred = self._infer(video_or_features, task, query, options, None if ZERO_GPU else report)
        if not hit:
            self.cache.put(key, features)
            timings = {"decode": decode_s, **features.timings_s, **pred.timings_s}
            pred = dataclasses.replace(pred, timings_s=timings)
        return pred, features, hit

    def _outputs(self, pred: Prediction, features: VideoFeatures, hit: bool, top_k: int | None = None,
                 options: list[str] | None = None) -> tuple:
        stats = self.cache.stats
        return (pred.to_dict(), answer_markdown(pred, options), timeline_value(pred, features.times, top_k),
                moments_html(pred, top_k), self._result_files(pred),
                status_markdown(pred, hit, stats.size, stats.max_entries))

    # ------------------------------------------------------------------------------------------ model events
    @user_errors
    def ground(self, video, query: str, progress=gr.Progress()):
        pred, features, hit = self.analyse(video, "grounding", query, progress=progress)
        return self._outputs(pred, features, hit)

    @user_errors
    def highlights(self, video, query: str, top_k: float = 5, progress=gr.Progress()):
        top_k = max(1, int(top_k or 5))
        pred, features, hit = self.analyse(video, "highlight", query, progress=progress)
        return self._outputs(pred, features, hit, top_k=top_k)

    @user_errors
    def captions(self, video, progress=gr.Progress()):
        pred, features, hit = self.analyse(video, "captioning", progress=progress)
        if not pred.segments:
            gr.Warning("The model wrote no timed caption for this video.")
        return self._outputs(pred, features, hit)

    @user_errors
    def ask(self, video, question: str, options_text: str = "", progress=gr.Progress()):
        options = parse_options(options_text)
        if options is not None and len(options) < 2:
            raise gr.Error("A multiple-choice question needs at least two options, one per line.",
                           title="Options")
        pred, features, hit = self.analyse(video, "qa", question, options, progress=progress)
        if options and pred.choice is None:
            gr.Warning("The model's answer matches none of the options.")
        return self._outputs(pred, features, hit, options=options)

    @user_errors
    def chat(self, message: str, history: list | None, video, progress=gr.Progress()):
        """One chat turn: the message is a grounded-QA question (the model has no memory of earlier turns)."""
        history = list(history or [])
        pred, features, hit = self.analyse(video, "qa", message, progress=progress)
        reply = pred.text.strip() or "(no answer)"
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
        return (history, "", *self._outputs(pred, features, hit))

    # ------------------------------------------------------------------------------------------ exports
    def _export_dir(self) -> Path:
        """A fresh folder per export (the file names stay readable); folders older than an hour are removed."""
        root = self.cache_dir / "exports"
        root.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - 3600
        for old in root.iterdir():
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        folder = root / uuid.uuid4().hex[:12]
        folder.mkdir()
        return folder

    def _result_files(self, pred: Prediction) -> list[str]:
        folder = self._export_dir()
        files = [write_json(pred, folder / f"videoexpert-{pred.task}.json")]
        if pred.task == "captioning" and pred.segments:
            files += [write_subtitles(pred, folder / "captions.srt"), write_subtitles(pred, folder / "captions.vtt")]
        return [str(f) for f in files]

    @staticmethod
    def _prediction(result: Any) -> Prediction:
        if not result:
            raise gr.Error("Run a task first: there is no result to export.", title="Nothing to export")
        return Prediction.from_dict(result)

    @user_errors
    def export_clip(self, video, result):
        """The top moment as an mp4 clip."""
        pred = self._prediction(result)
        path = self.checked_path(video)
        if pred.top is None:
            raise gr.Error("The result has no moment to cut.", title="Nothing to export")
        return str(write_clip(path, pred.top, self._export_dir() / "top-moment.mp4"))

    @user_errors
    def export_reel(self, video, result, k: float = 5):
        """The top-k moments, merged and in temporal order, as one mp4."""
        pred = self._prediction(result)
        path = self.checked_path(video)
        reel = write_highlight_reel(path, pred.segments, self._export_dir() / "highlight-reel.mp4", k=max(1, int(k or 5)))
        return str(reel)

    # ------------------------------------------------------------------------------------------ UI only
    @staticmethod
    def clear(video=None):
        """A new (or no) video: forget the previous result, chat and downloads."""
        return None, "", None, moments_html(None), None, "", [], "", gr.File(None, visible=False)


def parse_options(text: str | None) -> list[str] | None:
    """Multiple-choice options, one per line (blank lines ignored); None for a free-form question."""
    options = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return options or None


__all__ = ["Studio", "Limits", "STAGES", "gpu", "user_errors", "parse_options", "upload_roots", "default_cache_dir"]
