"""Long mode end to end on 10, 30, 60 and 120 minutes of video: wall time, time per video minute, windows, peak RSS.

    python bench/bench_long_scaling.py [--dir runs/long-scaling] [--minutes 10 30 60 120] [--model ...]

The videos are demo-world test clips (written like assets/, 256x256 at 10 fps, by bench/build_long_benchmark.py)
repeated in seed order until the length is reached, joined by ffmpeg's concat demuxer with stream copy: the same
files on every run, cached in --dir (a video is rebuilt only when its recipe changed). Each length runs in a fresh
Python process, so the peak RSS is that video's: the process loads the model, then times one
`predictor.predict(path, "grounding", query, windowed=True)` (decode, encode every window, answer). The table goes to
bench/results/bench_long_scaling.txt.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from build_long_benchmark import check_joined, concat, held_out_seeds  # noqa: E402

POOL = 30        # distinct clips; longer videos loop over them
MINUTES = (10, 30, 60, 120)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clip_pool(cache: Path, seed: int = 0, size: int = 256) -> tuple[list[Path], list[int], float, str]:
    """The pool's mp4 files (written once), their frame counts, fps, and the first clip's first grounding query."""
    from demo.world import generate_videos

    seeds = held_out_seeds(seed, POOL)
    videos = generate_videos("test", POOL, start_seed=seeds.start)
    files, frames = [], []
    (cache / "clips").mkdir(parents=True, exist_ok=True)
    for video in videos:
        path = cache / "clips" / f"{video.name}-{size}.mp4"
        if not path.exists():
            video.write_mp4(path.with_suffix(".part.mp4"), size=size).rename(path)
        files.append(path)
        frames.append(round(video.duration * video.fps))   # write_mp4 writes round(duration * fps) frames
    return files, frames, videos[0].fps, videos[0].grounding_queries()[0].query


def build_video(cache: Path, minutes: int, files: list[Path], frames: list[int], fps: float) -> tuple[Path, dict]:
    """Clips in seed order, looped, until `minutes` are reached; reused when the cached file has the same recipe."""
    chosen, total = [], 0
    for path, n in itertools.cycle(zip(files, frames)):
        if total >= minutes * 60 * fps:
            break
        chosen.append(path)
        total += n
    recipe = {"minutes": minutes, "clips": [p.name for p in chosen], "frames": total, "fps": fps}
    out, sidecar = cache / f"long-{minutes}min.mp4", cache / f"long-{minutes}min.json"
    if out.exists() and sidecar.exists() and json.loads(sidecar.read_text()) == recipe:
        return out, recipe
    sidecar.unlink(missing_ok=True)
    check_joined(concat(chosen, out), total, fps)        # its frames are exactly the clips'
    sidecar.write_text(json.dumps(recipe) + "\n")
    return out, recipe


def child(path: str, model: str | None, query: str, warmup: str | None) -> int:
    """One video in this (fresh) process: load, warm up on a short clip (torch's one-time kernel set-up), then one
    grounding query in long mode end to end; a JSON line."""
    import inspect

    from videoexpert import Predictor

    start = time.perf_counter()
    predictor = Predictor.from_pretrained(model)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    if warmup:
        predictor.predict(warmup, "grounding", query)
    warmup_s, rss_loaded = time.perf_counter() - start, peak_rss_mb()
    long_mode = "windowed" in inspect.signature(predictor.predict).parameters
    start = time.perf_counter()
    pred = predictor.predict(path, "grounding", query, **({"windowed": True} if long_mode else {}))
    wall = time.perf_counter() - start
    top = pred.top
    print(json.dumps({"wall_s": wall, "load_s": load_s, "warmup_s": warmup_s, "rss_loaded_mb": rss_loaded,
                      "peak_rss_mb": peak_rss_mb(), "duration": pred.duration,
                      "windows": getattr(pred, "windows", None), "found": getattr(pred, "found", None),
                      "segments": len(pred.segments),
                      "top": [round(top.start, 1), round(top.end, 1)] if top else None, "long_mode": long_mode,
                      "timings_s": {k: round(v, 2) for k, v in pred.timings_s.items()}}))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=str(ROOT / "runs" / "long-scaling"), help="where the videos are built and cached")
    p.add_argument("--minutes", type=int, nargs="+", default=list(MINUTES))
    p.add_argument("--model", help="saved model directory or preset (default: the shipped demo model)")
    p.add_argument("--query", help="the grounding query (default: the first clip's first query, in every loop)")
    p.add_argument("--timeout", type=float, default=3 * 3600, help="seconds one video may take")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "bench_long_scaling.txt"),
                   help="where the table goes ('-': nowhere)")
    p.add_argument("--child", help=argparse.SUPPRESS)    # internal: run one video in this process
    p.add_argument("--warmup", help=argparse.SUPPRESS)   # internal: the clip the child warms up on
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.model, args.query, args.warmup)

    cache = Path(args.dir)
    files, frames, fps, first_query = clip_pool(cache)
    query = args.query or first_query
    rows = []
    for minutes in args.minutes:
        start = time.perf_counter()
        path, recipe = build_video(cache, minutes, files, frames, fps)
        print(f"{path.name}: {recipe['frames']} frames, {len(recipe['clips'])} clips "
              f"(ready in {time.perf_counter() - start:.1f} s)", flush=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path), "--query", query,
               "--warmup", str(files[0])]
        cmd += ["--model", args.model] if args.model else []
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        if done.returncode != 0:
            raise SystemExit(f"{path.name} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["minutes"] = recipe["frames"] / fps / 60
        rows.append(result)
        print(json.dumps(result), flush=True)

    from bench_long import machine_line
    modes = {"long mode (windowed=True)" if r["long_mode"] else "single pass (no long mode in this videoexpert)"
             for r in rows}
    command = ("python bench/bench_long_scaling.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    lines = [f"One grounding query end to end ({', '.join(sorted(modes))}), each video in a fresh process, query "
             f"{query!r}; videos: {POOL} demo test clips looped (256x256, {fps:g} fps, H.264)",
             f"command: {command}", machine_line(), "",
             "| video min | windows | wall s | s / video min | peak RSS MB | RSS before MB | found | segments | "
             "top segment (s) | stages (s) |",
             "|---:|---:|---:|---:|---:|---:|---|---:|---|---|"]
    for r in rows:
        top = f"{r['top'][0]:.1f}-{r['top'][1]:.1f}" if r["top"] else "-"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["timings_s"].items())
        lines.append(f"| {r['minutes']:.1f} | {r['windows'] if r['windows'] is not None else '-'} | "
                     f"{r['wall_s']:.1f} | {r['wall_s'] / r['minutes']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['rss_loaded_mb']:.0f} | {r['found'] if r['found'] is not None else '-'} | "
                     f"{r['segments']} | {top} | {stages} |")
    lines += ["", "wall s: the predict call (decode + every window + answer), after the model load and one warm-up "
              "query on a 30-s clip (excluded). Peak RSS: the process's VmHWM after the call (model included); "
              "RSS before: VmHWM before it (model loaded, warmed up). stages: the prediction's timings_s."]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
