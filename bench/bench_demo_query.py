"""CPU latency of one grounding query with the shipped demo model on its example videos (assets/): the first query on
a video (decode + CLIP + compress + LLM + head) and the same query on cached features. Prints a Markdown table.

    python bench/bench_demo_query.py [--model checkpoints/videoexpert-demo] [--assets assets] [--repeats 5]

The first query of the process is timed apart (one-time warm-up of torch's kernels); the model load is reported too.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from videoexpert import Predictor, load_model  # noqa: E402

STAGES = ("decode", "encode", "compress", "generate", "ground")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "checkpoints" / "videoexpert-demo"))
    p.add_argument("--assets", default=str(ROOT / "assets"), help="example videos (*.mp4) with their *.json truth")
    p.add_argument("--repeats", type=int, default=5, help="timed queries per video (medians)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    predictor = Predictor(load_model(args.model).eval())
    load_s = time.perf_counter() - start
    videos = sorted(Path(args.assets).glob("*.mp4"))
    if not videos:
        raise SystemExit(f"no example videos in {args.assets}")

    def query(video: Path) -> str:
        return json.loads(video.with_suffix(".json").read_text())["grounding"][0]["query"]

    start = time.perf_counter()
    predictor.predict(videos[0], "grounding", query(videos[0]))
    cold_s = time.perf_counter() - start

    rows = []
    for video in videos:
        q, full, cached, stages = query(video), [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            pred = predictor.predict(video, "grounding", q)
            full.append(time.perf_counter() - start)
            stages.append(pred.timings_s)
        features = predictor.encode(video)
        for _ in range(args.repeats):
            start = time.perf_counter()
            predictor.predict(features, "grounding", q)
            cached.append(time.perf_counter() - start)
        mean = {k: statistics.mean(s.get(k, 0.0) for s in stages) for k in STAGES}
        rows.append((video.name, pred.duration, statistics.median(full), statistics.median(cached), mean))

    print(f"\nOne grounding query, model `{Path(args.model).name}`, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; load {load_s:.2f} s, "
          f"first query of the process {cold_s:.2f} s\n")
    print("| video | length (s) | end to end (s) | on cached features (s) | " + " / ".join(STAGES) + " (s) |")
    print("|---|---:|---:|---:|---|")
    for name, duration, full, cached, mean in rows:
        print(f"| {name} | {duration:.1f} | {full:.3f} | {cached:.3f} | "
              + " / ".join(f"{mean[k]:.3f}" for k in STAGES) + " |")
    print(f"\nMedians of {args.repeats}; stages are the means of the end-to-end queries' timings_s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
