"""Frame preprocessing on real videos written by ffmpeg: `read_video(resize="official")` is the official
pipeline (decord at native size, / 255, torchvision Resize(BICUBIC) + CenterCrop + Normalize on float tensors);
the fast path shares its geometry and stays close on smooth content."""

import numpy as np
import pytest
import torch

from tests.media import write_video
from videoexpert import video as video_module
from videoexpert.config import CLIP_MEAN, CLIP_STD
from videoexpert.video import frame_size_for, normalize_frames, read_video, resize_frames, sample_frame_indices

torchvision = pytest.importorskip("torchvision")
from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize  # noqa: E402


def textured_frames(num_frames: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Photograph-like frames: smooth colour gradients, a few soft blobs and fine noise, drifting slowly."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    noise = rng.normal(0, 12, (h + num_frames, w + num_frames, 3)).astype(np.float32)
    blobs = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(w / 12, w / 5), rng.uniform(0, 255, 3))
             for _ in range(5)]
    frames = np.empty((num_frames, h, w, 3), np.float32)
    for t in range(num_frames):
        base = np.stack([x / w * 200, y / h * 180, (x + y) / (w + h) * 160 + 40], -1)
        base = base + 20 * np.sin((x + 3 * t) / 7)[..., None]
        for bx, by, r, colour in blobs:
            a = np.exp(-(((x - bx - 2 * t) ** 2 + (y - by) ** 2) / (2 * r * r)))[..., None]
            base = base * (1 - a) + colour * a
        frames[t] = base + noise[t:t + h, t:t + w]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=[(96, 160), (120, 90), (50, 64)], ids=["landscape", "portrait", "near-square"])
def textured_video(request, video_dir):
    h, w = request.param
    return write_video(video_dir / f"textured_{w}x{h}.mp4", textured_frames(24, h, w), fps=8)


def torchvision_official(path, num_frames: int, size: int, antialias: bool) -> torch.Tensor:
    """The official preprocessing written directly: decord at native size, / 255, torchvision on float tensors."""
    import decord

    reader = decord.VideoReader(str(path))
    indices = sample_frame_indices(len(reader), num_frames)
    images = torch.from_numpy(reader.get_batch(indices.tolist()).asnumpy()).permute(0, 3, 1, 2)
    transform = Compose([Resize(size, interpolation=InterpolationMode.BICUBIC, antialias=antialias),
                         CenterCrop(size), Normalize(CLIP_MEAN, CLIP_STD)])
    return transform(images / 255.0)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_official_path_is_torchvision_on_float_frames(textured_video, backend, antialias):
    reference = torchvision_official(textured_video, 10, 32, antialias)
    clip = read_video(textured_video, 10, 32, backend=backend, antialias=antialias)   # resize="official" by default
    assert clip.resize == "official" and clip.backend == backend and clip.frames.dtype == torch.float32
    pixels = normalize_frames(clip.frames, CLIP_MEAN, CLIP_STD)
    assert pixels.shape == reference.shape == (10, 3, 32, 32)
    assert (pixels - reference).abs().max() < 1e-6


def test_official_path_in_chunks_is_the_same(textured_video, monkeypatch):
    whole = read_video(textured_video, 9, 32).frames
    monkeypatch.setattr(video_module, "_CHUNK_BYTES", 1)          # one native frame at a time
    assert video_module._chunk_frames(160, 96) == 1
    assert torch.equal(read_video(textured_video, 9, 32).frames, whole)


def test_chunks_bound_memory():
    """Native-size float frames are resized a few at a time: one 4K frame, a few 720p ones, never all 100."""
    assert video_module._chunk_frames(1280, 720) * 1280 * 720 * 3 * 4 <= video_module._CHUNK_BYTES
    assert video_module._chunk_frames(3840, 2160) == 1 and video_module._chunk_frames(64, 64) == 16


def test_geometry_is_torchvision_resize():
    from torchvision.transforms.functional import center_crop, resize

    for h, w in [(480, 640), (854, 480), (720, 1280), (240, 320), (1080, 1920), (100, 100), (225, 224), (33, 97)]:
        out_w, out_h = frame_size_for(w, h, 224)
        assert list(resize(torch.zeros(1, h, w), 224, antialias=True).shape[1:]) == [out_h, out_w]
    frames = torch.rand(2, 3, 75, 133)
    expected = center_crop(resize(frames, 32, InterpolationMode.BICUBIC, antialias=True), 32)
    assert torch.equal(resize_frames(frames, 32), expected)


def test_fast_path_stays_close_on_smooth_frames(video_dir):
    """The decoder-scaled uint8 frames are a few percent away from the official ones: not equal (the official
    path is the default for that reason), but the same picture with the same geometry."""
    path = write_video(video_dir / "smooth_320x180.mp4", textured_frames(12, 180, 320, seed=1), fps=8)
    official = normalize_frames(read_video(path, 6, 64).frames, CLIP_MEAN, CLIP_STD)
    fast = normalize_frames(read_video(path, 6, 64, resize="fast").frames, CLIP_MEAN, CLIP_STD)
    rel = float((fast - official).norm() / official.norm())
    assert 0 < rel < 0.08, rel


def test_normalize_frames_reads_both_dtypes_and_keeps_its_input():
    frames = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    as_float = frames.float()
    a, b = normalize_frames(frames, CLIP_MEAN, CLIP_STD), normalize_frames(as_float, CLIP_MEAN, CLIP_STD)
    assert torch.equal(a, b) and torch.equal(as_float, frames.float())     # float input not divided in place
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    assert torch.allclose(a * torch.tensor(CLIP_STD).view(1, 3, 1, 1) + mean, frames / 255.0, atol=1e-6)
