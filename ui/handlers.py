"""The app's event handlers: plain methods of `Studio`, which holds one `Predictor`, its feature cache and the
app's limits. Each model handler gives the same outputs, in this order:

    result (DESIGN.md §5 dict), answer (Markdown), timeline (figure value), moments (HTML), files, status

`ground`, `highlights` and `captions` are generators: on a long video (longer than the model's window,
`config.windows.seconds`) they yield the answer merged over the windows done so far after each window, then the
final answer (an API client gets the last yield, the same outputs as before). The prediction runs in a worker
thread (`_stream`) that hands progress and partial answers to the handler through a queue. `ask` and `chat` answer
once (the package merges no partial answer for a question).

Long videos are answered window by window (`Predictor.encode(..., lazy=True)` returns at once, each window is
decoded and encoded when a question first needs it); the windowed features go into the feature cache as soon as
they exist, so a second question reuses every window encoded so far. Under ZeroGPU the app keeps its single pass
(one GPU call that decodes nothing and returns picklable CPU features): the windows are encoded on demand inside
a long-lived object the GPU worker process cannot hand back, so long mode is off there (see `Studio.windowed`).

Errors reach the user in exactly one place, `user_errors`: a `VideoExpertError` becomes `gr.Error(message)`,
anything unexpected is logged with its traceback and shown as a one-line error, never a stack trace.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr

from videoexpert import (FeatureCache, InputError, Prediction, Predictor, VideoDecodeError, VideoExpertError,
                         VideoFeatures, content_hash, probe_video, write_clip, write_highlight_reel, write_json,
                         write_subtitles)

from .timeline import timeline_value
from .views import ModelInfo, answer_markdown, moments_html, partial_status_markdown, status_markdown

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
    "refining": (0.94, "Refining the best moments (twice the frame rate)"),
}
WINDOW_STAGE = re.compile(r"window (\d+)/(\d+)")
WINDOWS_SPAN = (0.08, 0.92)   # the share of the bar that a long video's windows fill, one step per window


def stage_progress(stage: str) -> tuple[float, str] | None:
    """(fraction, text) for a stage the package reports; "window k/n" moves the bar one step per window."""
    if stage in STAGES:
        return STAGES[stage]
    match = WINDOW_STAGE.fullmatch(stage)
    if match is None:
        return None
    k, n = int(match.group(1)), int(match.group(2))
    low, high = WINDOWS_SPAN
    return low + (high - low) * (k - 1) / max(n, 1), f"Window {k}/{n}"


_TITLES = {"InputError": "Check the input", "VideoDecodeError": "Cannot use this video",
           "CheckpointError": "Model error", "ResultSchemaError": "Malformed result"}


def _user_error(e: Exception, name: str) -> gr.Error:
    if isinstance(e, VideoExpertError):
        return gr.Error(str(e), title=_TITLES.get(type(e).__name__, "Error"), print_exception=False)
    logger.error("unexpected error in %s", name, exc_info=e)   # a bug: log it whole, show one line
    return gr.Error(f"Unexpected {type(e).__name__}: {e}. The details are in the server log.", title="Internal error")


def user_errors(fn: Callable) -> Callable:
    """The one place where errors become UI messages (for plain handlers and for generators alike)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:
                raise _user_error(e, fn.__name__) from e
        return stream

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            raise _user_error(e, fn.__name__) from e
    return wrapper


@dataclass(frozen=True)
class Limits:
    """Upload limits. The same numbers go to `launch(max_file_size=...)` and to the decoder."""

    max_duration_s: float | None = 3 * 3600.0
    max_file_size: int | None = 500 * 2**20


@dataclass(frozen=True)
class Run:
    """One answer a model handler shows: `windows_done` is set for a partial answer of a long video (the windows
    merged so far), None for the final one."""

    pred: Prediction
    features: Any                 # VideoFeatures, or the package's WindowedFeatures for a long video
    hit: bool                     # the features came from the cache
    windows_done: int | None = None
    reused: int | None = None     # long video: windows already encoded when this question came


class _Cancelled(Exception):
    """The page went away (the handler's generator was closed): the worker stops before its next window."""


def upload_roots() -> list[Path]:
    """Where Gradio puts uploads and files it serves (its temp dir, as `gradio.utils.get_upload_folder`)."""
    gradio_tmp = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return [Path(gradio_tmp).resolve()]


def default_cache_dir() -> Path:
    return Path(os.environ.get("VIDEOEXPERT_CACHE_DIR") or Path(tempfile.gettempdir()) / "videoexpert-studio")


def _windowed(features: Any) -> bool:
    """Whether these are a long video's windowed features (the package's WindowedFeatures)."""
    return not isinstance(features, VideoFeatures) and hasattr(features, "spans")


def _windows_encoded(features: Any) -> int:
    return len(features.windows) if _windowed(features) else 0


class Studio:
    """Handlers bound to one predictor. The feature cache is shared by every session (a cache, not user data).

    windowed: answer a video longer than the model's window (`config.windows.seconds`) window by window, with
    answers streamed as windows finish (the app's default); False keeps one pass of `num_frames` frames over any
    video. Always False under ZeroGPU (see the module docstring)."""

    def __init__(self, predictor: Predictor, info: ModelInfo, *, limits: Limits = Limits(),
                 cache: FeatureCache | None = None, cache_dir: str | Path | None = None,
                 extra_roots: list[str | Path] = (), windowed: bool = True) -> None:
        self.predictor = predictor
        self.info = info
        self.limits = limits
        self.windowed = windowed and not ZERO_GPU
        self.cache = cache or FeatureCache(8)
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.roots = upload_roots() + [self.cache_dir.resolve()] + [Path(r).resolve() for r in extra_roots]
        self._infer = gpu(self._infer_on_device)
        self._broken: set[str] = set()     # content hashes whose cached windows failed to decode: encode afresh

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

    def check_duration(self, path: Path) -> None:
        """The duration limit, for the events that do not decode through the predictor (exports)."""
        limit = self.limits.max_duration_s
        if limit is None:
            return
        duration = probe_video(path, max_bytes=self.limits.max_file_size).duration
        if duration > limit:
            raise VideoDecodeError(f"video is {duration:.0f} s long, over the limit of {limit:.0f} s")

    def _infer_on_device(self, video, task: str, query: str, options: list[str] | None,
                         report: Callable[[str], None] | None) -> tuple[VideoFeatures, Prediction]:
        """Encode (when given a decoded clip) and predict. The only code that needs the GPU: under ZeroGPU it
        runs in a worker process, so it returns features on the CPU for the cache in the main process."""
        features = video if isinstance(video, VideoFeatures) else self.predictor.encode(video, progress=report)
        pred = self.predictor.predict(features, task, query, options=options, progress=report)
        return features.to("cpu"), pred

    def analyse(self, video: Any, task: str, query: str = "", options: list[str] | None = None,
                progress: Callable | None = None,
                on_partial: Callable[[Run], None] | None = None) -> Run:
        """Decode and encode only the first time a file's bytes are seen, then answer. On a long video (windowed
        mode), `on_partial` gets a `Run` after each window but the last, with the answer merged so far."""
        def report(stage: str) -> None:
            shown = stage_progress(stage)
            if progress is not None and shown is not None:
                progress(shown[0], desc=shown[1])

        path = self.checked_path(video)
        if task != "captioning" and not (query or "").strip():
            raise InputError("Type what to look for first: the query is empty.")
        report("hashing")
        key = content_hash(path)
        if self.windowed:
            return self._analyse_windowed(path, key, task, query, options, report, on_partial)
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
        return Run(pred, features, hit)

    def _analyse_windowed(self, path: Path, key: str, task: str, query: str, options: list[str] | None,
                          report: Callable[[str], None], on_partial: Callable[[Run], None] | None) -> Run:
        """Long mode: a short video is decoded and encoded at once (one pass, as ever); a long one returns its
        windows unencoded, cached at once, encoded as the question walks through them."""
        cached = None if key in self._broken else self.cache.get(key)
        hit = cached is not None
        features = cached
        if features is None:
            features = self.predictor.encode(path, max_bytes=self.limits.max_file_size,
                                             max_duration=self.limits.max_duration_s, lazy=True, progress=report)
            features = features.to("cpu")      # VideoFeatures to the CPU as before; windows stay where encoded
            self.cache.put(key, features)
            self._broken.discard(key)
        windowed = _windowed(features)
        reused = _windows_encoded(features) if windowed else None
        before = dict(features.timings_s) if windowed else {}
        partial = None
        if on_partial is not None and windowed:
            done = iter(range(1, len(features) + 1))
            partial = lambda pred: on_partial(Run(pred, features, hit, next(done), reused))  # noqa: E731
        try:
            pred = self.predictor.predict(features, task, query, options=options, progress=report,
                                          on_partial=partial)
        except _Cancelled:
            raise
        except Exception:
            if windowed and not features.complete:
                self._broken.add(key)          # its decoder stopped: the next question starts a fresh one
            raise
        if windowed:   # what this question decoded and encoded (0: every window came from the cache)
            timings = dict(pred.timings_s)
            for stage in ("decode", "encode"):
                spent = features.timings_s.get(stage, 0.0) - before.get(stage, 0.0)
                if spent > 0:
                    timings[stage] = spent
                else:
                    timings.pop(stage, None)
            pred = dataclasses.replace(pred, timings_s=timings)
        elif not hit:
            pred = dataclasses.replace(pred, timings_s={**features.timings_s, **pred.timings_s})
        return Run(pred, features, hit, None, reused)

    def _stream(self, video: Any, task: str, query: str = "", options: list[str] | None = None,
                progress: Callable | None = None) -> Iterator[Run]:
        """`analyse` in a worker thread: yields a `Run` per partial answer as windows finish, then the final one.
        Progress is shown from this (the handler's) thread; closing the generator stops the worker before its next
        window."""
        events: queue.Queue = queue.Queue()
        stop = threading.Event()

        def report(fraction: float, desc: str | None = None) -> None:
            if stop.is_set():
                raise _Cancelled()
            events.put(("progress", (fraction, desc)))

        def work() -> None:
            try:
                events.put(("final", self.analyse(video, task, query, options, progress=report,
                                                  on_partial=lambda run: events.put(("partial", run)))))
            except BaseException as e:   # handed to the handler, raised there
                events.put(("error", e))

        worker = threading.Thread(target=work, name=f"videoexpert-{task}", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = events.get()
                if kind == "progress":
                    if progress is not None:
                        progress(value[0], desc=value[1])
                elif kind == "partial":
                    yield value
                elif kind == "error":
                    if isinstance(value, _Cancelled):
                        return
                    raise value
                else:
                    yield value
                    return
        finally:
            stop.set()

    def _outputs(self, run: Run, top_k: int | None = None, options: list[str] | None = None) -> tuple:
        pred, features = run.pred, run.features
        times = features.times
        if run.windows_done is not None:   # a partial answer: no files yet, the rest of the video still to come
            until = float(features.spans[run.windows_done - 1][1])   # the end of the last window done
            return (pred.to_dict(), answer_markdown(pred, options, run.windows_done, until),
                    timeline_value(pred, times, top_k, pending_from=until, revision=features.source),
                    moments_html(pred, top_k), None, partial_status_markdown(pred, run.windows_done, until))
        stats = self.cache.stats
        return (pred.to_dict(), answer_markdown(pred, options),
                timeline_value(pred, times, top_k, revision=features.source),
                moments_html(pred, top_k), self._result_files(pred),
                status_markdown(pred, run.hit, stats.size, stats.max_entries, reused=run.reused))

    # ------------------------------------------------------------------------------------------ model events
    @user_errors
    def ground(self, video, query: str, progress=gr.Progress()):
        for run in self._stream(video, "grounding", query, progress=progress):
            yield self._outputs(run)

    @user_errors
    def highlights(self, video, query: str, top_k: float = 5, progress=gr.Progress()):
        top_k = max(1, int(top_k or 5))
        for run in self._stream(video, "highlight", query, progress=progress):
            yield self._outputs(run, top_k=top_k)

    @user_errors
    def captions(self, video, progress=gr.Progress()):
        for run in self._stream(video, "captioning", progress=progress):
            if run.windows_done is None and not run.pred.segments:
                gr.Warning("The model wrote no timed caption for this video.")
            yield self._outputs(run)

    @user_errors
    def ask(self, video, question: str, options_text: str = "", progress=gr.Progress()):
        options = parse_options(options_text)
        if options is not None and len(options) < 2:
            raise gr.Error("A multiple-choice question needs at least two options, one per line.",
                           title="Options")
        run = self.analyse(video, "qa", question, options, progress=progress)
        if options and run.pred.choice is None:
            gr.Warning("The model's answer matches none of the options.")
        return self._outputs(run, options=options)

    @user_errors
    def chat(self, message: str, history: list | None, video, progress=gr.Progress()):
        """One chat turn: the message is a grounded-QA question (the model has no memory of earlier turns)."""
        history = list(history or [])
        run = self.analyse(video, "qa", message, progress=progress)
        reply = run.pred.text.strip() or "(no answer)"
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
        return (history, "", *self._outputs(run))

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
        """The top moment as an mp4 clip (times are the video's own, whatever window found it)."""
        pred = self._prediction(result)
        path = self.checked_path(video)
        self.check_duration(path)
        if pred.top is None:
            raise gr.Error("The result has no moment to cut.", title="Nothing to export")
        return str(write_clip(path, pred.top, self._export_dir() / "top-moment.mp4"))

    @user_errors
    def export_reel(self, video, result, k: float = 5):
        """The top-k moments, merged and in temporal order, as one mp4."""
        pred = self._prediction(result)
        path = self.checked_path(video)
        self.check_duration(path)
        if not pred.segments:
            raise gr.Error("The result has no moment to put in a reel.", title="Nothing to export")
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


__all__ = ["Studio", "Limits", "Run", "STAGES", "stage_progress", "gpu", "user_errors", "parse_options",
           "upload_roots", "default_cache_dir"]
