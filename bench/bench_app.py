"""App latency: time from Run to result, first query on a video (decode + encode + LLM) vs repeated queries on
the same video (features from the cache), through the app's real API (gradio_client against the app that
app.py builds, launched in-process). Prints a Markdown table.

    python bench/bench_app.py [--model tiny] [--videos 3] [--seconds 8 30] [--repeats 3] [--browser]

--browser also runs the Playwright script of tests/e2e (Debian Chromium) and reports the time from clicking
Run to the timeline being drawn in the page, first and repeated query.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app as app_module  # noqa: E402
from tests.media import write_video  # noqa: E402


def make_video(path: Path, seconds: float, seed: int, fps: float = 25.0, size: tuple[int, int] = (320, 240)) -> Path:
    """A moving square over a noisy background (noise so that each video's bytes and features differ)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    w, h = size
    frames = rng.integers(0, 60, size=(n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        x = int((w - 40) * i / max(n - 1, 1))
        frames[i, h // 2 - 20:h // 2 + 20, x:x + 40] = (230, 40, 40)
    return write_video(path, frames, fps=fps)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny", help="model directory or preset (default: tiny, random weights)")
    p.add_argument("--videos", type=int, default=3, help="fresh videos per length (first queries measured)")
    p.add_argument("--seconds", type=float, nargs="+", default=[8.0, 30.0], help="video lengths")
    p.add_argument("--repeats", type=int, default=3, help="repeated queries per video")
    p.add_argument("--browser", action="store_true", help="also time Run -> timeline drawn in Chromium")
    args = p.parse_args(argv)

    from gradio_client import Client, handle_file

    workdir = Path(tempfile.mkdtemp(prefix="bench-app-"))
    demo, launch = app_module.create_app(["--model", args.model, "--host", "127.0.0.1", "--port", str(free_port()),
                                          "--cache-size", str(len(args.seconds) * args.videos + 1),
                                          "--examples", str(workdir / "none")])
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    client = Client(url, verbose=False)
    rows = []
    try:
        client.predict(handle_file(str(make_video(workdir / "warmup.mp4", 4, seed=999))), "warm up",
                       api_name="/ground")                                   # first-call overheads out of the way
        for seconds in args.seconds:
            first, repeat, other, stages = [], [], [], []
            for v in range(args.videos):
                video = handle_file(str(make_video(workdir / f"v{seconds:g}-{v}.mp4", seconds, seed=v)))
                t, out = timed(client.predict, video, "the red square moves right", api_name="/ground")
                first.append(t)
                stages.append(out[0]["timings_s"])
                for _ in range(args.repeats):
                    t, out = timed(client.predict, video, "the red square moves right", api_name="/ground")
                    assert "decode" not in out[0]["timings_s"], "repeated query was not served from the cache"
                    repeat.append(t)
                t, _ = timed(client.predict, video, "the red square", 5, api_name="/highlights")
                other.append(t)
            mean_stage = {k: statistics.mean(s.get(k, 0.0) for s in stages) for k in ("decode", "encode", "generate")}
            rows.append((seconds, first, repeat, other, mean_stage))
    finally:
        demo.close()

    print(f"\nApp latency, Run -> result through the API (gradio_client), model `{args.model}`, "
          f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print("| video | first query (s) | repeated query (s) | other task, cached (s) | first: decode / encode / LLM (s) |")
    print("|---|---|---|---|---|")
    for seconds, first, repeat, other, st in rows:
        print(f"| {seconds:g} s, 320x240, 25 fps | {statistics.median(first):.2f} (n={len(first)}) | "
              f"{statistics.median(repeat):.2f} (n={len(repeat)}) | {statistics.median(other):.2f} | "
              f"{st['decode']:.2f} / {st['encode']:.2f} / {st['generate']:.2f} |")
    print("\nMedians; 'repeated' = same video and query again (features from the cache: no decode, no encode).")

    if args.browser:
        report = browser_timing(workdir)
        print(f"\nIn Chromium (Run click -> timeline drawn, 8 s video): first {report['run_to_timeline_ms'] / 1000:.2f} s, "
              f"repeated {report['repeat_run_to_timeline_ms'] / 1000:.2f} s")
    return 0


def browser_timing(workdir: Path) -> dict:
    """Run the e2e script once against a fresh app and return its timings."""
    from tests.e2e.test_browser import SCRIPT, missing_tools, scene_video

    missing = missing_tools()
    if missing:
        raise SystemExit(f"--browser needs {', '.join(missing)}: run scripts/install-browser.sh")
    demo, launch = app_module.create_app(["--model", "tiny", "--host", "127.0.0.1", "--port", str(free_port()),
                                          "--examples", str(workdir / "none")])
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    try:
        video = scene_video(workdir / "scene.mp4")
        proc = subprocess.run(["node", str(SCRIPT), url, str(video), str(workdir / "bench.png")],
                              cwd=SCRIPT.parent, capture_output=True, text=True, timeout=300)
        return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    finally:
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
