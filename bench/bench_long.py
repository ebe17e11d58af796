"""Grounding on the long-video benchmark (bench/build_long_benchmark.py): every query asked three ways.

    python bench/build_long_benchmark.py --out runs/long-bench
    python bench/bench_long.py --bench runs/long-bench [--model checkpoints/videoexpert-demo] [--limit N]

    per clip      the query on its own clip, one 100-frame pass (what `python -m demo evaluate` measures, here on
                  the mp4 rather than frames rendered straight from the world)
    single pass   the query on the whole long file, `windowed=False`: 100 frames over all of it
    long mode     the query on the whole long file, `windowed=True`: overlapping windows merged in global time

The top segment is scored against the nearest occurrence of the query (a query text can recur across clips): R1@0.5,
R1@0.7 and mIoU by `videoexpert.eval.grounding.evaluate_grounding`. "R@3 0.5" counts a query whose top three
segments include one at IoU >= 0.5 with any occurrence, "R@all 0.5" one whose whole ranked list does (is the moment
found at all, however ranked); "not found" is the share long mode answers with none. Each file is encoded once and
every query asked on its cached features. The table goes to bench/results/bench_long.txt.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from videoexpert import Predictor  # noqa: E402
from videoexpert.data.annotations import GroundingQuery  # noqa: E402
from videoexpert.eval.grounding import evaluate_grounding  # noqa: E402
from videoexpert.spans import temporal_iou  # noqa: E402

MODES = ("per clip", "single pass", "long mode")
Span = tuple[float, float]


@dataclass
class ModeRun:
    """One way of asking: each query's ranked segments in global time, and what it cost."""

    mode: str
    segments: dict[str, list[Span]] = field(default_factory=dict)   # query id -> ranked (start, end), global s
    scores: dict[str, list[float]] = field(default_factory=dict)    # query id -> each segment's score
    found: dict[str, bool | None] = field(default_factory=dict)
    encode_s: float = 0.0            # every file this mode encodes, decoding included
    query_s: list[float] = field(default_factory=list)
    windows: int | None = None


def nearest(top: Span | None, occurrences: list[Span]) -> Span:
    """The occurrence the top segment overlaps most (the first one when it overlaps none)."""
    if top is None:
        return occurrences[0]
    return max(occurrences, key=lambda occ: temporal_iou(top, occ))


def score(run: ModeRun, queries: list[dict], occurrences: dict[str, list[Span]]) -> dict:
    """R1@0.5, R1@0.7, mIoU (evaluate_grounding, against each query's nearest occurrence), R@3 0.5, R@all 0.5 (any
    segment returned), not found."""
    items, tops = [], {}
    for q in queries:
        ranked = run.segments[q["id"]]
        top = ranked[0] if ranked else None
        start, end = nearest(top, occurrences[q["id"]])
        items.append(GroundingQuery(q["id"], q["clip_name"], q["query"], start, end))
        tops[q["id"]] = top
    m = evaluate_grounding(items, tops, thresholds=(0.5, 0.7))
    def hit(q: dict, k: int | None) -> bool:
        return any(temporal_iou(seg, occ) >= 0.5 for seg in run.segments[q["id"]][:k] for occ in occurrences[q["id"]])

    top3, every = [hit(q, 3) for q in queries], [hit(q, None) for q in queries]
    found = [run.found[q["id"]] for q in queries if run.found[q["id"]] is not None]
    return {"R1@0.5": m.recall[0.5] / 100, "R1@0.7": m.recall[0.7] / 100, "mIoU": m.miou / 100,
            "R@3 0.5": sum(top3) / len(top3), "R@all 0.5": sum(every) / len(every),
            "segments": statistics.mean(len(run.segments[q["id"]]) for q in queries),
            "not found": (found.count(False) / len(found)) if found else None,
            "n": len(queries)}


def long_mode_available(predictor: Predictor) -> bool:
    return "windowed" in inspect.signature(predictor.encode).parameters


def encode(predictor: Predictor, path: Path, windowed: bool):
    if long_mode_available(predictor):
        return predictor.encode(path, windowed=windowed)
    if windowed:
        raise RuntimeError("this videoexpert has no long mode (Predictor.encode takes no windowed=)")
    return predictor.encode(path)


def ask(predictor: Predictor, run: ModeRun, features, queries: list[dict], offset: float = 0.0) -> None:
    """Every query on cached features; segments shifted by `offset` into global time."""
    for q in queries:
        start = time.perf_counter()
        pred = predictor.predict(features, "grounding", q["query"])
        run.query_s.append(time.perf_counter() - start)
        run.segments[q["id"]] = [(s.start + offset, s.end + offset) for s in pred.segments]
        run.scores[q["id"]] = [s.score for s in pred.segments]
        run.found[q["id"]] = getattr(pred, "found", None)
        run.windows = getattr(pred, "windows", None)


def run_per_clip(predictor: Predictor, bench: Path, truth: dict, queries: list[dict]) -> ModeRun:
    run = ModeRun("per clip")
    for clip in truth["clips"]:
        mine = [q for q in queries if q["clip"] == clip["index"]]
        if not mine:
            continue
        start = time.perf_counter()
        features = encode(predictor, bench / clip["file"], windowed=False)
        run.encode_s += time.perf_counter() - start
        ask(predictor, run, features, mine, clip["offset"])
    return run


def run_long_file(predictor: Predictor, bench: Path, truth: dict, queries: list[dict], windowed: bool) -> ModeRun:
    run = ModeRun(MODES[2] if windowed else MODES[1])
    start = time.perf_counter()
    features = encode(predictor, bench / truth["video"], windowed=windowed)
    run.encode_s = time.perf_counter() - start
    ask(predictor, run, features, queries)
    return run


def clip_occurrences(q: dict, clip: dict) -> list[Span]:
    """The occurrences of a query inside its own clip (what the per-clip pass can see)."""
    lo, hi = clip["offset"], clip["offset"] + clip["duration"]
    return [tuple(o) for o in q["occurrences"] if lo <= o[0] and o[1] <= hi]


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "videoexpert")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in videoexpert/" if dirty else "")


def machine_line() -> str:
    """The machine, torch's threads, the code measured and how busy the (shared) CPU was."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"machine: {platform.machine()} CPU shared with other work, {os.cpu_count()} cores (load average {load} "
            f"at the end), torch {torch.__version__} with {torch.get_num_threads()} threads; videoexpert at "
            f"{git_state()}")


def table(runs: list[ModeRun], scores: list[dict]) -> str:
    rows = ["| mode | queries | R1@0.5 | R1@0.7 | mIoU | R@3 0.5 | R@all 0.5 | segments | not found | windows | "
            "encode s | ms / query |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run, s in zip(runs, scores):
        not_found = f"{s['not found']:.3f}" if s["not found"] is not None else "-"
        windows = str(run.windows) if run.windows is not None else "-"
        rows.append(f"| {run.mode} | {s['n']} | {s['R1@0.5']:.3f} | {s['R1@0.7']:.3f} | {s['mIoU']:.3f} | "
                    f"{s['R@3 0.5']:.3f} | {s['R@all 0.5']:.3f} | {s['segments']:.1f} | {not_found} | {windows} | "
                    f"{run.encode_s:.1f} | {1000 * statistics.median(run.query_s):.0f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", required=True, help="folder written by bench/build_long_benchmark.py")
    p.add_argument("--model", help="saved model directory or preset (default: the shipped demo model)")
    p.add_argument("--limit", type=int, help="only the first N queries (the long file is still encoded whole)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), metavar="MODE",
                   help=f"which rows, of: {', '.join(repr(m) for m in MODES)}")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "bench_long.txt"),
                   help="where the table goes ('-': nowhere)")
    p.add_argument("--details", help="also write each query's segments per mode here (JSON lines)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    bench = Path(args.bench)
    truth = json.loads((bench / "ground_truth.json").read_text())
    clips = {c["index"]: c for c in truth["clips"]}
    queries = [dict(q, clip_name=clips[q["clip"]]["name"]) for q in truth["queries"]][: args.limit]
    start = time.perf_counter()
    predictor = Predictor.from_pretrained(args.model)
    load_s = time.perf_counter() - start
    predictor.predict(bench / clips[0]["file"], "grounding", queries[0]["query"])   # torch's one-time warm-up

    runs, scores = [], []
    for mode in args.modes:
        if mode == "long mode" and not long_mode_available(predictor):
            print("long mode: not available in this videoexpert (Predictor.encode takes no windowed=), row left out")
            continue
        if mode == "per clip":
            run = run_per_clip(predictor, bench, truth, queries)
            occurrences = {q["id"]: clip_occurrences(q, clips[q["clip"]]) for q in queries}
        else:
            run = run_long_file(predictor, bench, truth, queries, windowed=mode == "long mode")
            occurrences = {q["id"]: [tuple(o) for o in q["occurrences"]] for q in queries}
        runs.append(run)
        scores.append(score(run, queries, occurrences))
        print(f"{mode}: encoded in {run.encode_s:.1f} s, {len(queries)} queries, "
              f"R1@0.5 {scores[-1]['R1@0.5']:.3f}", flush=True)

    command = ("python bench/bench_long.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    header = (f"Grounding on the long-video benchmark: {truth['num_videos']} demo test clips (seeds "
              f"{truth['seeds'][0]}-{truth['seeds'][1]}) joined into {truth['duration'] / 60:.2f} min "
              f"({truth['frames']} frames, {truth['fps']:g} fps, {truth['size']}x{truth['size']}), {len(queries)} "
              f"queries, model `{Path(str(args.model or 'videoexpert-demo')).name}`\n"
              f"command: {command}\n"
              f"{machine_line()}; model load {load_s:.1f} s")
    text = (f"{header}\n\n{table(runs, scores)}\n\n"
            "encode s: decoding + vision tower of every file the mode reads (per clip: all its clips; long mode: "
            "every window). ms / query: median over the queries, on the cached features. R@all 0.5: some segment of "
            "the ranked list (segments: its mean length) hits an occurrence.\n")
    print("\n" + text)
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    if args.details:
        with open(args.details, "w") as f:
            for q in queries:
                f.write(json.dumps({"id": q["id"], "query": q["query"], "occurrences": q["occurrences"],
                                    **{r.mode: {"segments": [[round(a, 2), round(b, 2), round(c, 3)] for (a, b), c
                                                             in zip(r.segments[q["id"]], r.scores[q["id"]])],
                                                "found": r.found[q["id"]]} for r in runs}}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
