"""Decode speed: 100 uniformly sampled frames of a 90-s 720p H.264 video (the first query of the app is mostly this
decode), by backend, decoder thread count and resize mode, at the vision tower's 224 px (official preprocessing) and
at the demo model's 64 px. Every variant returns the exact sampled frames (no keyframe seeking).

The video is ffmpeg's moving test pattern (`testsrc2`, 1280x720, 30 fps, 2700 frames), libx264 with its default GOP
(250) and B-frames, `-preset veryfast` so that writing it takes under a minute on two cores (the default preset takes
minutes); it is written once into `--workdir` (a temporary folder unless given) and reused from there.

Each variant runs once, after a probe that brings the file into the page cache (the whole bench takes a few minutes on
two shared cores; run it twice to see the noise). "CPU s" is the process's CPU time over all its threads: on a loaded
machine wall times swing with the load, the work done much less. "identical?" compares the frames bit for bit with
decord's at one thread (PyAV at one thread against more: tests/test_video_windows.py). Prints a Markdown table and
writes it to `--out`.

    python bench/bench_decode.py [--workdir DIR] [--out bench/results/bench_decode.txt] [--append]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECONDS, FPS, WIDTH, HEIGHT = 90, 30, 1280, 720
NUM_FRAMES = 100
ALL = os.cpu_count() or 1

# (label, backend, threads, resize, the variant whose frames it is compared with); per size
VARIANTS = [
    ("decord, 1 thread (before #18)", "decord", 1, "official", None),
    (f"decord, {ALL} threads", "decord", ALL, "official", "decord, 1 thread (before #18)"),
    (f"PyAV one pass, {ALL} threads (AUTO)", "pyav", ALL, "official", "decord, 1 thread (before #18)"),
    (f"fast: decord scales, {ALL} threads", "decord", ALL, "fast", None),
]
SIZES = (224, 64)


def write_video(path: Path) -> None:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi",
           "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={SECONDS}", "-c:v", "libx264",
           "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    subprocess.run(cmd, check=True)


def timed_read(path: Path, size: int, backend: str, threads: int, resize: str):
    """Wall and CPU seconds (all threads) for one `read_video`, the backend that read it, its frames and indices."""
    from videoexpert.video import read_video

    start, cpu = time.perf_counter(), time.process_time()
    clip = read_video(path, NUM_FRAMES, size, backend=backend, resize=resize, threads=threads)
    return (time.perf_counter() - start, time.process_time() - cpu, clip.backend, clip.frames.numpy(),
            clip.indices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="where the test video is written and kept")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bench_decode.txt")
    parser.add_argument("--append", action="store_true", help="add this run to --out instead of replacing it")
    args = parser.parse_args()

    import av
    import decord
    import numpy as np
    import torch

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_decode_"))
    workdir.mkdir(parents=True, exist_ok=True)
    video = workdir / f"testsrc2_{WIDTH}x{HEIGHT}_{FPS}fps_{SECONDS}s.mp4"
    if not video.exists():
        start = time.perf_counter()
        write_video(video)
        print(f"wrote {video} in {time.perf_counter() - start:.0f} s", file=sys.stderr)

    from videoexpert.video import probe_video

    start = time.perf_counter()
    info = probe_video(video)          # also warms the page cache: every variant reads the file from memory
    probe_ms = (time.perf_counter() - start) * 1000
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    try:
        load = "load average %.1f at start" % os.getloadavg()[0]
    except OSError:
        load = "load unknown"
    lines = [f"Decode {NUM_FRAMES} uniformly sampled frames of a {SECONDS}-s {info.width}x{info.height} "
             f"{info.fps:g}-fps H.264 ({info.total_frames} frames, testsrc2, libx264 veryfast, GOP 250, "
             f"{video.stat().st_size / 2**20:.0f} MiB); probe_video {probe_ms:.0f} ms",
             f"Machine: {cpu}, {ALL} CPU cores shared with other workers ({load}); Python "
             f"{platform.python_version()}, decord {decord.__version__}, PyAV {av.__version__} "
             f"(FFmpeg {av.library_versions['libavcodec']}), torch {torch.__version__}",
             "",
             "| size | variant | ms | CPU s | speed-up vs decord 1 thread | identical to decord 1 thread? |",
             "|---:|---|---:|---:|---:|---|"]
    print("\n".join(lines), flush=True)
    for size in SIZES:
        runs = {}
        for label, backend, threads, resize, reference in VARIANTS:
            seconds, cpu, used, frames, indices = timed_read(video, size, backend, threads, resize)
            assert used == backend, f"{label}: read by {used}"
            runs[label] = (seconds, frames, indices)
            if reference is None:
                same = "n/a (reference)" if resize == "official" else "n/a (other resize)"
            else:
                ref = runs[reference]
                assert indices == ref[2], f"{label}: other frame indices than {reference}"
                diff = float(np.abs(frames.astype(np.float64) - ref[1].astype(np.float64)).max())
                same = "yes" if diff == 0 else f"NO: max abs diff {diff:.3g} of 255"
            base = runs[VARIANTS[0][0]][0]
            row = f"| {size} | {label} | {seconds * 1000:.0f} | {cpu:.1f} | {base / seconds:.2f}x | {same} |"
            lines.append(row)
            print(row, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a" if args.append else "w") as f:
        f.write(("\n\n" if args.append else "") + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
