"""Batch inference over a benchmark: resumable, failure-tolerant, sharded across processes.

`run_inference(items, predict, out)` is the engine and takes any ``predict(item) -> Prediction``
callable, so it is tested with a deterministic fake and used with the real model by `infer_benchmark`:

* resumable: ids already in `out` (and in shard files left by an interrupted multi-process run) are
  skipped; a half-written last line from a crash is cut off before appending;
* failure-tolerant: an exception in one item is logged and written to ``<out>.errors.jsonl``
  (``{"id", "error"}``), and the run goes on; failed items are retried by the next run;
* sharded: under ``accelerate launch`` with several processes, `infer_benchmark` splits the remaining
  items with ``PartialState().split_between_processes``; each process writes ``<out>.part<rank>`` and
  the main process merges them into `out` at the end.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..data.annotations import normalize_id
from ..result import Prediction
from ..video import VIDEO_SUFFIXES
from .benchmarks import TASK_OF, load_annotations
from .predictions import write_prediction

logger = logging.getLogger(__name__)

CAPTION_PROMPT = "Localize a series of activity events in the video and describe each one."


@dataclass(frozen=True)
class InferItem:
    """One model call: which video, which task, what to ask."""

    id: str
    video_id: str
    task: str
    query: str
    options: tuple[str, ...] | None = None
    video_hint: str = ""    # a relative path without extension, when the benchmark ships one (NExT-GQA)


@dataclass
class InferSummary:
    total: int
    skipped: int                               # already in the output before this run
    written: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)   # (id, error)


def benchmark_items(benchmark: str, targets: Sequence) -> list[InferItem]:
    """The model calls a benchmark needs, one per annotation item, in annotation order."""
    task = TASK_OF[benchmark]
    if task == "captioning":
        return [InferItem(t.id, t.id, task, CAPTION_PROMPT) for t in targets]
    if task == "qa":
        return [InferItem(t.id, t.video_id, task, t.question, t.options or None, t.video_path) for t in targets]
    return [InferItem(t.id, t.video_id, task, t.query) for t in targets]


class VideoIndex:
    """Finds a benchmark video under a folder by id (any of `VIDEO_SUFFIXES`, any depth), indexing once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._by_stem: dict[str, Path] = {}
        for dirpath, _, files in os.walk(self.root):
            for name in files:
                path = Path(dirpath, name)
                if path.suffix.lower() in VIDEO_SUFFIXES:
                    self._by_stem.setdefault(path.stem, path)

    def find(self, item: InferItem) -> Path:
        for ext in VIDEO_SUFFIXES if item.video_hint else ():
            candidate = self.root / f"{item.video_hint}{ext}"
            if candidate.exists():
                return candidate
        stems = [item.video_id]
        if item.video_id.startswith("v_"):          # ActivityNet / YouCook2 keys carry a "v_" prefix
            stems.append(item.video_id[2:])
        for stem in stems:
            if stem in self._by_stem:
                return self._by_stem[stem]
        raise FileNotFoundError(f"no video for {item.video_id!r} under {self.root} "
                                f"(looked for {', '.join(stems)} with {', '.join(VIDEO_SUFFIXES)})")


def _repair_tail(path: Path) -> None:
    """Cut a partial last line (a crash mid-write) so appended lines start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1
    logger.warning("%s ends with a partial line (%d bytes); removing it before resuming", path, len(data) - keep)
    with open(path, "r+b") as f:
        f.truncate(keep)


def completed_ids(*paths: Path) -> set[str]:
    """Ids with a readable prediction line in any of `paths` (failed items are not there)."""
    done = set()
    for path in paths:
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and "id" in row:
                    done.add(normalize_id(row["id"]))
    return done


def run_inference(items: Sequence[InferItem], predict: Callable[[InferItem], Prediction], out: str | Path,
                  *, errors: str | Path | None = None, done: set[str] | None = None,
                  progress: bool = True) -> InferSummary:
    """Predict every item not yet in `out`, appending one JSONL line per success."""
    from tqdm.auto import tqdm

    out = Path(out)
    errors = Path(errors) if errors else out.with_name(out.name + ".errors.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    _repair_tail(out)
    done = completed_ids(out) if done is None else done
    todo = [item for item in items if item.id not in done]
    summary = InferSummary(total=len(items), skipped=len(items) - len(todo))
    if summary.skipped:
        logger.info("resuming: %d of %d items already in %s", summary.skipped, len(items), out)
    with open(out, "a", encoding="utf-8") as sink, open(errors, "w", encoding="utf-8") as err_sink:
        for item in tqdm(todo, desc=f"infer {out.name}", unit="item", disable=not progress):
            try:
                prediction = predict(item)
                if not isinstance(prediction, Prediction):
                    raise TypeError(f"predict returned {type(prediction).__name__}, not Prediction")
            except Exception as e:   # noqa: BLE001 - one bad video must not stop a benchmark run
                message = f"{type(e).__name__}: {e}"
                logger.warning("item %s failed: %s", item.id, message)
                summary.failures.append((item.id, message))
                err_sink.write(json.dumps({"id": item.id, "error": message}) + "\n")
                err_sink.flush()
                continue
            write_prediction(sink, item.id, prediction)
            summary.written += 1
    if not summary.failures:
        errors.unlink(missing_ok=True)
    return summary


def _merge(parts: Sequence[Path], target: Path, *, append: bool = True) -> None:
    """Concatenate shard files into `target` (appending, or replacing it) and delete them."""
    _repair_tail(target)
    text = ""
    for part in parts:
        if part.exists():
            _repair_tail(part)
            text += part.read_text(encoding="utf-8")
            part.unlink()
    if append:
        with open(target, "a", encoding="utf-8") as sink:
            sink.write(text)
    elif text:
        target.write_text(text, encoding="utf-8")
    else:
        target.unlink(missing_ok=True)


def infer_benchmark(benchmark: str, annotations: str | Path, videos: str | Path, model: str,
                    out: str | Path, *, progress: bool = True) -> InferSummary:
    """Run the VideoExpert model `model` over a benchmark and write `out` (our JSONL schema)."""
    out = Path(out)
    items = benchmark_items(benchmark, load_annotations(benchmark, annotations))
    index = VideoIndex(videos)
    state = _partial_state()
    world = state.num_processes if state is not None else 1
    rank = state.process_index if state is not None else 0
    parts = [out.with_name(f"{out.name}.part{r}") for r in range(world)]
    part_errors = [out.with_name(f"{out.name}.errors.part{r}") for r in range(world)]
    if rank == 0:
        out.parent.mkdir(parents=True, exist_ok=True)
        leftovers = sorted(out.parent.glob(f"{out.name}.part*"))
        if leftovers:   # shards of an interrupted multi-process run: keep their predictions
            logger.info("merging %d shard file(s) left by an interrupted run into %s", len(leftovers), out)
            _merge(leftovers, out)
        _repair_tail(out)
    if state is not None:
        state.wait_for_everyone()
    done = completed_ids(out)
    todo = [item for item in items if item.id not in done]
    if state is not None:
        state.wait_for_everyone()        # every rank has read the same `done` before anyone writes
    if not todo:
        logger.info("all %d items are already in %s", len(items), out)
        return InferSummary(total=len(items), skipped=len(items))

    from videoexpert import Predictor   # lazy: the metrics must not import torch

    device = str(state.device) if world > 1 else None
    predictor = Predictor.from_pretrained(model, device=device)

    def predict(item: InferItem) -> Prediction:
        return predictor.predict(str(index.find(item)), item.task, item.query, options=list(item.options or []) or None)

    if world == 1:
        summary = run_inference(todo, predict, out, done=set(), progress=progress)
        summary.total, summary.skipped = len(items), len(items) - len(todo)
        return summary
    with state.split_between_processes(todo) as shard:
        summary = run_inference(shard, predict, parts[rank], errors=part_errors[rank], done=set(),
                                progress=progress and state.is_local_main_process)
    state.wait_for_everyone()
    if state.is_main_process:
        _merge(parts, out)
        _merge(part_errors, out.with_name(out.name + ".errors.jsonl"), append=False)
    summary.total, summary.skipped = len(items), len(items) - len(todo)
    return summary


def _partial_state():
    """accelerate's PartialState when accelerate is installed, else None (single process)."""
    try:
        from accelerate import PartialState
    except ImportError:
        return None
    return PartialState()


__all__ = ["CAPTION_PROMPT", "InferItem", "InferSummary", "benchmark_items", "VideoIndex", "completed_ids",
           "run_inference", "infer_benchmark"]
