"""Frame preprocessing: the decoder-scaled uint8 path (`read_video(resize="fast")`) against the official one
(frames decoded at native size, `/ 255`, torchvision `Resize(size, BICUBIC)` + `CenterCrop(size)` +
`Normalize(CLIP mean/std)` on float tensors), on natural-looking videos. Prints Markdown tables:

1. pixel and feature differences per video size, for each vision tower: OpenAI's ViT-L/14 architecture with
   QuickGELU (open_clip `ViT-L-14-quickgelu`, random weights: the OpenAI ones cannot be fetched offline) at
   224 px, and the shipped demo model's own ViT at its 64 px. The reference is the official pipeline with
   `antialias=True` (torchvision >= 0.17's default); compared: the fast path (decord, PyAV) and
   `antialias=False` (what torchvision 0.15/0.16 did on tensors); for scale, the next sampled frame of the
   reference (1/100 of the video later: 0.1 s into a pan that crosses the collage in 10 s);
2. decode + preprocess time and peak memory for 100 frames of a 90-s 720p video.

The videos are a collage of photographs (scikit-image's sample images, or `--images DIR`), panned and zoomed
slowly, encoded with imageio-ffmpeg's ffmpeg at several sizes; `--videos` measures your own files instead.

    python bench/bench_preprocess.py [--feature-frames 4] [--workdir DIR] [--videos a.mp4 b.mp4]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "checkpoints" / "videoexpert-demo"
SIZES = ((1280, 720), (640, 480), (480, 854), (320, 240))


# ------------------------------------------------------------------------------------------------ test media

def _photos(folder: str | None) -> list:
    from PIL import Image

    if folder:
        files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        return [Image.open(p).convert("RGB") for p in files]
    try:
        from skimage import data
    except ImportError as e:
        raise SystemExit("natural images needed: `pip install scikit-image` or pass --images DIR or --videos") from e
    names = ("astronaut", "coffee", "motorcycle_left", "chelsea", "hubble_deep_field", "rocket", "retina", "grass")
    return [Image.fromarray(getattr(data, n)()).convert("RGB") for n in names]


def collage(folder: str | None = None):
    """The photographs at their own resolution, side by side in two rows on a grey ground (about 3000 x 1400)."""
    from PIL import Image

    photos = [p if max(p.size) <= 1000 else p.crop(((p.width - 800) // 2, (p.height - 800) // 2,
                                                    (p.width + 800) // 2, (p.height + 800) // 2))
              for p in _photos(folder)]
    half = (len(photos) + 1) // 2
    rows = [photos[:half], photos[half:]]
    width = max(sum(p.width for p in r) for r in rows)
    height = sum(max(p.height for p in r) for r in rows)
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    y = 0
    for row in rows:
        x, h = 0, max(p.height for p in row)
        for p in row:
            canvas.paste(p, (x, y + (h - p.height) // 2))
            x += p.width
        y += h
    return canvas


def pan_frames(canvas, width: int, height: int, count: int, unique: int = 300):
    """A window sliding across the collage and zooming in by a quarter, rendered with Lanczos (a camera-like
    downscale); after `unique` frames the motion runs back and forth (cheap long videos)."""
    from PIL import Image

    base = min(max(width, 960) / width, canvas.width / width, canvas.height / height)
    for k in range(count):
        cycle = k % (2 * unique)
        t = (cycle if cycle < unique else 2 * unique - 1 - cycle) / max(1, unique - 1)
        zoom = 1.0 - 0.25 * t
        ww, wh = min(width * base * zoom, canvas.width - 1), min(height * base * zoom, canvas.height - 1)
        cx = ww / 2 + (canvas.width - ww) * t
        cy = wh / 2 + (canvas.height - wh) * (0.5 - 0.5 * np.cos(np.pi * t))
        box = (cx - ww / 2, cy - wh / 2, cx + ww / 2, cy + wh / 2)
        yield np.asarray(canvas.resize((width, height), Image.LANCZOS, box=box))


def write_pan_video(path: Path, canvas, width: int, height: int, seconds: float, fps: int = 30) -> Path:
    import imageio_ffmpeg

    if path.exists():
        return path
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "20", "-pix_fmt", "yuv420p", str(path) + ".part.mp4"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for frame in pan_frames(canvas, width, height, int(seconds * fps)):
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"ffmpeg failed on {path}")
    Path(str(path) + ".part.mp4").rename(path)
    return path


# ------------------------------------------------------------------------------------------------ pipelines

def torchvision_reference(path: str, num_frames: int, size: int, antialias: bool) -> torch.Tensor:
    """The official preprocessing written with torchvision as it is: decord at native size, all sampled frames
    at once, float / 255, Compose([Resize(size, BICUBIC), CenterCrop(size), Normalize(CLIP)])."""
    import decord
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize

    from videoexpert.config import CLIP_MEAN, CLIP_STD
    from videoexpert.video import sample_frame_indices

    reader = decord.VideoReader(path)
    indices = sample_frame_indices(len(reader), num_frames)
    images = torch.from_numpy(reader.get_batch(indices.tolist()).asnumpy()).permute(0, 3, 1, 2)
    transform = Compose([Resize(size, interpolation=InterpolationMode.BICUBIC, antialias=antialias),
                         CenterCrop(size), Normalize(CLIP_MEAN, CLIP_STD)])
    return transform(images / 255.0)


def ours(path: str, num_frames: int, size: int, **kwargs) -> torch.Tensor:
    from videoexpert.config import CLIP_MEAN, CLIP_STD
    from videoexpert.video import normalize_frames, read_video

    return normalize_frames(read_video(path, num_frames, size, **kwargs).frames, CLIP_MEAN, CLIP_STD)


def towers() -> list[tuple[str, torch.nn.Module, int]]:
    """(name, tower, image size): ViT-L/14 QuickGELU with random weights (seed 0), the shipped demo's ViT."""
    import json

    from videoexpert.config import VisionConfig
    from videoexpert.vision import VisionTower, build_visual

    torch.manual_seed(0)
    vit_l = VisionConfig(arch="ViT-L-14-quickgelu", pretrained=None)
    out = [("ViT-L-14-quickgelu (random)", VisionTower(build_visual(vit_l), vit_l), 224)]
    if (DEMO / "config.json").exists():
        demo = VisionConfig(**json.loads((DEMO / "config.json").read_text())["vision"])
        out.append(("demo ViT", VisionTower.from_config(demo, base_dir=DEMO), demo.image_size))
    return out


def feature_diff(tower, pixels: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    with torch.no_grad():
        a, b = tower(pixels).float(), tower(reference).float()        # (k, 1 + p, d)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)            # (k, 1 + p)
    return {"cls_rel": float((a[:, 0] - b[:, 0]).norm() / b[:, 0].norm()),
            "patch_rel": float((a[:, 1:] - b[:, 1:]).norm() / b[:, 1:].norm()),
            "cls_cos": float(cos[:, 0].mean()), "patch_cos": float(cos[:, 1:].mean()),
            "patch_cos_min": float(cos[:, 1:].min())}


def differences(videos: list[Path], num_frames: int, feature_frames: int) -> None:
    print("Reference: the official preprocessing, antialias=True (torchvision >= 0.17). Pixels: all "
          f"{num_frames} sampled frames, in normalised units (1.0 = one CLIP std, about 0.27 of the 0-1 range). "
          f"Features: {feature_frames} of those frames, every token after ln_post and the projection.\n")
    print("| video | tower (px) | compared with the reference | px mean abs | px rel L2 | CLS rel L2 | "
          "patch rel L2 | CLS cos | patch cos (mean / min) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    exact = []
    for name, tower, size in towers():
        for video in videos:
            path = str(video)
            ref = torchvision_reference(path, num_frames, size, antialias=True)
            ours_official = ours(path, num_frames, size, resize="official")
            exact.append((video.name, size, float((ours_official - ref).abs().max())))
            pick = torch.linspace(0, num_frames - 1, feature_frames).long()
            candidates = {"fast path (decord)": ours(path, num_frames, size, resize="fast", backend="decord"),
                          "fast path (PyAV)": ours(path, num_frames, size, resize="fast", backend="pyav"),
                          "official, antialias=False": torchvision_reference(path, num_frames, size, antialias=False)}
            # for scale: the next sampled frame of the same pipeline (a slow pan: 1/100 of the video later)
            nxt = torch.cat([ref[1:], ref[-2:-1]])
            candidates["next sampled frame (scale)"] = nxt
            for label, pixels in candidates.items():
                d = (pixels - ref)[:-1] if pixels is nxt else pixels - ref
                f = feature_diff(tower, pixels[pick], ref[pick])
                rel = d.norm() / ref[:len(d)].norm()
                print(f"| {video.stem} | {name} ({size}) | {label} | {d.abs().mean():.4f} | {rel:.4f} "
                      f"| {f['cls_rel']:.4f} | {f['patch_rel']:.4f} | {f['cls_cos']:.5f} | "
                      f"{f['patch_cos']:.5f} / {f['patch_cos_min']:.4f} |", flush=True)
    worst = max(exact, key=lambda e: e[2])
    print(f"\n`read_video(resize=\"official\")` against the torchvision reference: max abs difference "
          f"{worst[2]:.2e} (worst: {worst[0]} at {worst[1]} px) over {len(exact)} video/size pairs.\n")


# ------------------------------------------------------------------------------------------------ timing

def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _timed_child(queue, fn_name: str, path: str, kwargs: dict) -> None:
    """Runs in a fresh process: the time of one call and how far it raised the resident high-water mark
    (reset first through /proc/self/clear_refs; ru_maxrss would carry the parent's peak across fork/exec)."""
    import decord  # noqa: F401  (imports and their memory are not what is measured)
    import av  # noqa: F401
    import torchvision  # noqa: F401

    import videoexpert.video  # noqa: F401

    fn = {"ours": ours, "torchvision": torchvision_reference}[fn_name]
    Path("/proc/self/clear_refs").write_text("5")
    before = _memory_kib("VmRSS")
    start = time.perf_counter()
    pixels = fn(path, **kwargs)
    elapsed = time.perf_counter() - start
    queue.put((elapsed, (_memory_kib("VmHWM") - before) / 1024, tuple(pixels.shape)))


def timing(video: Path, repeats: int) -> None:
    from videoexpert.video import probe_video

    info = probe_video(video)
    print(f"Decode + preprocess + normalise, 100 frames of {video.name} ({info.width}x{info.height}, "
          f"{info.duration:.0f} s, {info.total_frames} frames), each run in a fresh process; best of {repeats}; "
          "peak memory: how far the call raised the process's resident high-water mark.\n")
    print("| pipeline | seconds | peak memory growth (MiB) |")
    print("|---|---:|---:|")
    runs = [("fast path, decord", "ours", {"resize": "fast", "backend": "decord"}),
            ("fast path, PyAV", "ours", {"resize": "fast", "backend": "pyav"}),
            ("official path (ours), decord", "ours", {"resize": "official", "backend": "decord"}),
            ("official path (ours), PyAV", "ours", {"resize": "official", "backend": "pyav"}),
            ("torchvision reference, all frames at once", "torchvision", {"antialias": True})]
    ctx = mp.get_context("spawn")
    for label, fn_name, kwargs in runs:
        best = None
        for _ in range(repeats):
            queue = ctx.Queue()
            proc = ctx.Process(target=_timed_child, args=(queue, fn_name, str(video),
                                                          {"num_frames": 100, "size": 224, **kwargs}))
            proc.start()
            result = queue.get()
            proc.join()
            best = result if best is None or result[0] < best[0] else best
        print(f"| {label} | {best[0]:.2f} | {best[1]:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", nargs="+", type=Path, help="your own videos (skips generating test media)")
    parser.add_argument("--images", help="a folder of photographs for the collage (default: scikit-image's)")
    parser.add_argument("--workdir", type=Path, help="where generated videos are kept (default: a temporary folder)")
    parser.add_argument("--frames", type=int, default=100, help="frames sampled per video for the pixel comparison")
    parser.add_argument("--feature-frames", type=int, default=4, help="of those, frames run through the towers "
                        "(ViT-L on CPU takes several seconds a frame)")
    parser.add_argument("--timing-video", type=Path, help="default: a generated 90-s 1280x720 video")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-differences", action="store_true")
    args = parser.parse_args()

    import torchvision

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_preprocess_"))
    workdir.mkdir(parents=True, exist_ok=True)
    canvas = None if args.videos and (args.timing_video or args.skip_timing) else collage(args.images)
    videos = args.videos or [write_pan_video(workdir / f"pan_{w}x{h}.mp4", canvas, w, h, 10) for w, h in SIZES]
    print(f"Frame preprocessing on {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}\n")
    if not args.skip_differences:
        differences(videos, args.frames, args.feature_frames)
    if not args.skip_timing:
        timing(args.timing_video or write_pan_video(workdir / "pan_1280x720_90s.mp4", canvas, 1280, 720, 90),
               args.repeats)


if __name__ == "__main__":
    main()
