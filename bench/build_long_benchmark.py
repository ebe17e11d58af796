"""A long-video grounding benchmark from the demo world: held-out test videos written as mp4 and concatenated into
one file, with every clip's grounding queries shifted to global time. Deterministic: the same seed gives the same
ground truth, byte for byte (and, with the same ffmpeg, the same video).

    python bench/build_long_benchmark.py --out runs/long-bench [--num-videos 30] [--seed 0] [--duration S] [--size 256]

DIR/clips/<name>.mp4     each test video, written like assets/ (`WorldVideo.write_mp4`, 10 fps, 64 -> 256 pixels)
DIR/long.mp4             the clips in seed order, joined by ffmpeg's concat demuxer (stream copy)
DIR/ground_truth.json    the clips (offset, frames, duration) and every grounding query: its span in the clip and in
                         global time, and `occurrences`, every global span whose clip has the same query text (a text
                         can recur across clips; a hit on any of them counts)

The test seeds are those of `python -m demo evaluate --seed S`: seed * 1_000_000 + 500_000 on, split "test". Offsets
are frame-exact (frames before the clip / fps, from frames counted by decoding), and the joined file is checked to
hold exactly the clips' frames.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # demo/ lives beside the package

from demo.world import generate_videos  # noqa: E402
from videoexpert.errors import VideoExpertError  # noqa: E402

LONG_NAME = "long.mp4"
TRUTH_NAME = "ground_truth.json"
DIGITS = 4   # times are whole tenths plus offsets of whole frames: rounding only strips float noise


def held_out_seeds(seed: int, num_videos: int) -> range:
    """The held-out test seeds `python -m demo evaluate --seed seed` scores."""
    start = seed * 1_000_000 + 500_000
    return range(start, start + num_videos)


def count_frames(path: Path) -> tuple[int, float, float]:
    """(frames decoded, fps, stream duration in s) of a video file: the real count, not the container's guess."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate)
        duration = float(stream.duration * stream.time_base) if stream.duration is not None else frames / fps
    return frames, fps, duration


def concat(files: list[Path], out: Path) -> Path:
    """Join mp4 files of one codec, size and fps with ffmpeg's concat demuxer (stream copy, no re-encode)."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "files.txt"
        listing.write_text("".join(f"file '{f.resolve()}'\n" for f in files))
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
               "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise VideoExpertError(f"ffmpeg failed to join {len(files)} files into {out}: {done.stderr.strip()}")
    return out


def check_joined(path: Path, total_frames: int, fps: float) -> dict:
    """The joined file's frames are exactly the clips' (and its stream lasts them, to half a frame)."""
    frames, file_fps, duration = count_frames(path)
    if frames != total_frames or abs(file_fps - fps) > 1e-6 or abs(duration - total_frames / fps) > 0.5 / fps:
        raise VideoExpertError(f"{path.name}: {frames} frames at {file_fps:g} fps over {duration:.3f} s, expected "
                               f"{total_frames} frames at {fps:g} fps ({total_frames / fps:.3f} s)")
    return {"frames": frames, "fps": fps, "duration": round(total_frames / fps, DIGITS)}


def dumps(truth: dict) -> str:
    """JSON with one clip and one query a line (readable, and a diff shows which query changed)."""
    head = {k: v for k, v in truth.items() if k not in ("clips", "queries")}
    lines = [json.dumps(head)[:-1] + ","]
    for key in ("clips", "queries"):
        rows = ",\n".join("  " + json.dumps(row) for row in truth[key])
        lines.append(f' "{key}": [\n{rows}\n ]' + ("," if key == "clips" else ""))
    return "\n".join(lines) + "\n}\n"


def build(out: Path, num_videos: int = 30, seed: int = 0, duration: float | None = None, size: int = 256,
          log=print) -> dict:
    """Write the clips, the joined video and ground_truth.json under `out`; return the ground truth."""
    duration = float(duration) if duration is not None else None   # 10 and 10.0 write the same ground truth
    clips_dir = out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    seeds = held_out_seeds(seed, num_videos)
    videos = generate_videos("test", num_videos, start_seed=seeds.start,
                             **({"duration": duration} if duration is not None else {}))
    clips, queries, files, offset_frames = [], [], [], 0
    for index, video in enumerate(videos):
        path = video.write_mp4(clips_dir / f"{video.name}.mp4", size=size)
        frames, fps, _ = count_frames(path)
        if abs(fps - video.fps) > 1e-6:
            raise VideoExpertError(f"{path.name} was written at {fps:g} fps, expected {video.fps:g}")
        offset = round(offset_frames / fps, DIGITS)
        clips.append({"index": index, "name": video.name, "seed": video.seed, "file": f"clips/{path.name}",
                      "offset": offset, "offset_frame": offset_frames, "frames": frames,
                      "duration": round(frames / fps, DIGITS)})
        for i, item in enumerate(video.grounding_queries()):
            queries.append({"id": f"{video.name}#{i}", "clip": index, "query": item.query, "event": item.event,
                            "clip_start": item.start, "clip_end": item.end, "offset": offset,
                            "start": round(offset + item.start, DIGITS), "end": round(offset + item.end, DIGITS)})
        files.append(path)
        offset_frames += frames
        log(f"clip {index + 1}/{num_videos}: {path.name}, {frames} frames at {offset:.1f} s")
    fps = videos[0].fps
    spans: dict[str, list[list[float]]] = {}
    for q in queries:
        spans.setdefault(q["query"], []).append([q["start"], q["end"]])
    for q in queries:
        q["occurrences"] = spans[q["query"]]
    joined = check_joined(concat(files, out / LONG_NAME), offset_frames, fps)
    truth = {"video": LONG_NAME, **joined, "size": size, "split": "test", "seed": seed, "seeds": [seeds.start,
             seeds.stop - 1], "num_videos": num_videos, "clip_duration": duration, "clips": clips, "queries": queries}
    (out / TRUTH_NAME).write_text(dumps(truth))
    repeated = sum(len(v) > 1 for v in spans.values())
    log(f"{out / LONG_NAME}: {num_videos} clips, {joined['frames']} frames = {joined['duration'] / 60:.2f} min, "
        f"{len(queries)} queries ({len(spans)} texts, {repeated} of them in more than one clip)")
    return truth


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for clips/, long.mp4 and ground_truth.json")
    p.add_argument("--num-videos", type=int, default=30, help="held-out test videos to join (about 38 s each)")
    p.add_argument("--seed", type=int, default=0, help="the build seed whose test videos are used (as demo evaluate)")
    p.add_argument("--duration", type=float, help="every clip this long in seconds (10-60; default: each video's own)")
    p.add_argument("--size", type=int, default=256, help="frame size in pixels (assets/ use 256)")
    args = p.parse_args(argv)
    if args.num_videos < 1:
        p.error("--num-videos must be at least 1")
    build(Path(args.out), args.num_videos, args.seed, args.duration, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
