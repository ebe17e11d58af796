"""The demo world: procedurally generated videos of coloured shapes with exact ground truth for all four tasks.

A video is a small frozen spec (`WorldVideo`): a textured background, 1-3 objects and their events. Nothing
moves except during an event, and each event is a continuous change over its window [start, end]:

    appear / disappear   the object fades in / out (absent before the window, fully there after it)
    move                 it slides left, right, up or down by 22-50 % of the frame
    grow / shrink        its size changes by a factor of about 1.4-2
    change_colour        its colour blends into another one

So the ground-truth window is exactly where the pixels change. An object's own events never overlap (a gap
of at least max(1 s, 3 % of the video) separates them); events of different objects do. Times are whole
tenths of a second. Windows last from max(1.5 s, 4 % of the video) to min(40 % of the video, 12 s), so the
100 uniformly sampled frames always see at least 3 frames of each event.

Objects never overlap on screen, and all the colours one video uses are distinct (an object that changes
colour takes a colour no other object has), so "the red circle" names exactly one object at any time.
Every query is unique within its video.

Splits: "train" and "val" (same distribution) never contain a `HELD_OUT_PAIRS` colour-shape pair, not even
after a colour change; every "test" video has a held-out pair as the subject of at least one event, so
test scores measure composition (a yellow circle) of things seen apart (yellow things, circles).

Rendering draws only the frames asked for (`WorldVideo.render(times_s)`), vectorised over time with numpy;
`WorldVideo.write_mp4` encodes a real H.264 file with the ffmpeg of imageio-ffmpeg.
"""

from __future__ import annotations

import functools
import logging
import math
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
import numpy as np

from videoexpert.errors import ConfigError, VideoExpertError
from .world_text import (CaptionItem, EventFacts, GroundingItem, QAItem, caption_sentence, event_phrase,
                             frame_sentence, qa_items as _qa_items, text_corpus)

logger = logging.getLogger(__name__)

COLOURS: dict[str, tuple[int, int, int]] = {  # saturated or bright, far from the dull backgrounds and each other
    "red": (225, 35, 35), "orange": (255, 140, 0), "yellow": (245, 230, 30), "green": (30, 195, 60),
    "blue": (40, 90, 255), "purple": (165, 50, 225), "white": (250, 250, 250),
}
SHAPES = ("circle", "square", "triangle", "diamond")
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
EVENT_KINDS = ("appear", "disappear", "move", "grow", "shrink", "change_colour")
BACKGROUNDS = ("noise", "stripes", "checker", "gradient", "tinted")
SPLITS = ("train", "val", "test")
# Colour-shape pairs that never appear in train/val and that every test video contains (each colour and each
# shape of these is common in training, only the combination is new).
HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = (("yellow", "circle"), ("blue", "triangle"), ("purple", "square"))

MIN_SIZE, MAX_SIZE = 0.17, 0.38   # object size (bounding box side) as a fraction of the frame: 11-24 px at 64
MARGIN = 0.03                     # objects keep this far from the frame's edges
MIN_MOVE, MAX_MOVE = 0.22, 0.5    # travel of a move, fraction of the frame
SEPARATION = 0.03                 # minimum gap between two objects' bounding boxes
_ATTEMPTS_PER_COUNT = 100


MIN_DURATION_S, MAX_DURATION_S = 10, 60   # every video lasts between these (s), drawn in tenths of a second


@dataclass(frozen=True)
class Background:
    kind: str                          # one of BACKGROUNDS
    base: tuple[int, int, int]         # dull RGB
    accent: tuple[int, int, int]       # second dull RGB (stripes, checker, gradient end, noise spread)
    scale: float                       # stripe period / checker cell / noise cell, fraction of the frame
    orientation: str                   # horizontal, vertical, diagonal
    seed: int                          # noise pattern


@dataclass(frozen=True)
class WorldObject:
    shape: str
    colour: str       # colour at time 0 (or when it appears)
    x: float          # centre at time 0, fraction of the frame (x to the right, y down)
    y: float
    size: float       # bounding-box side at time 0, fraction of the frame
    visible: bool     # visible at time 0 (False when its first event is "appear")


@dataclass(frozen=True)
class WorldEvent:
    kind: str                      # one of EVENT_KINDS
    object: int                    # index into WorldVideo.objects
    start: float                   # seconds
    end: float
    direction: str | None = None   # move
    amount: float = 0.0            # move: travel; grow/shrink: size change (both fractions of the frame, > 0)
    colour: str | None = None      # change_colour: the new colour


@dataclass(frozen=True)
class Track:
    """One object's state at each requested time: arrays of shape (t,), colour (t, 3)."""

    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    rgb: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class WorldVideo:
    """A generated video: a cheap spec from which frames and every kind of ground truth are derived."""

    seed: int
    split: str
    duration: float                    # seconds
    fps: float
    size: int                          # frames are size x size
    background: Background
    objects: tuple[WorldObject, ...]
    events: tuple[WorldEvent, ...]     # sorted by (start, end)

    # -------------------------------------------------------------------------------- serialisation

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WorldVideo":
        bg = dict(d["background"])
        bg["base"], bg["accent"] = tuple(bg["base"]), tuple(bg["accent"])
        return cls(seed=int(d["seed"]), split=d["split"], duration=float(d["duration"]), fps=float(d["fps"]),
                   size=int(d["size"]), background=Background(**bg),
                   objects=tuple(WorldObject(**o) for o in d["objects"]),
                   events=tuple(WorldEvent(**e) for e in d["events"]))

    @property
    def name(self) -> str:
        return f"world-{self.split}-{self.seed:06d}"

    # -------------------------------------------------------------------------------- state and pixels

    def tracks(self, times_s) -> list[Track]:
        """Every object's position, size, colour and opacity at `times_s`: initial state + each event's share."""
        t = np.asarray(times_s, dtype=np.float64).reshape(-1)
        out = []
        for i, obj in enumerate(self.objects):
            x, y = np.full(t.shape, obj.x), np.full(t.shape, obj.y)
            size, alpha = np.full(t.shape, obj.size), np.full(t.shape, 1.0 if obj.visible else 0.0)
            rgb = np.tile(np.array(COLOURS[obj.colour], dtype=np.float64), (t.size, 1))
            colour = obj.colour
            for ev in self._object_events(i):
                frac = np.clip((t - ev.start) / (ev.end - ev.start), 0.0, 1.0)
                if ev.kind == "move":
                    dx, dy = DIRECTIONS[ev.direction]
                    x, y = x + frac * dx * ev.amount, y + frac * dy * ev.amount
                elif ev.kind in ("grow", "shrink"):
                    size = size + frac * (ev.amount if ev.kind == "grow" else -ev.amount)
                elif ev.kind == "change_colour":
                    rgb = rgb + frac[:, None] * (np.array(COLOURS[ev.colour], float) - np.array(COLOURS[colour], float))
                    colour = ev.colour
                else:
                    alpha = alpha + (frac if ev.kind == "appear" else -frac)
            out.append(Track(x, y, size, rgb, np.clip(alpha, 0.0, 1.0)))
        return out

    def render(self, times_s, size: int | None = None) -> np.ndarray:
        """Frames at exactly `times_s` (seconds): (t, size, size, 3) uint8."""
        size = size or self.size
        times = np.asarray(times_s, dtype=np.float64).reshape(-1)
        background = _background_image(self.background, size)                     # (h, w, 3) float32
        frames = np.repeat(background[None], times.size, axis=0)                   # (t, h, w, 3)
        centres = (np.arange(size, dtype=np.float32) + 0.5) / size
        for obj, track in zip(self.objects, self.tracks(times)):
            shown = track.alpha > 0
            if not shown.any():
                continue
            idx = np.flatnonzero(shown)                                                 # frames where it is drawn
            dx = centres[None, None, :] - track.x[idx, None, None].astype(np.float32)   # (t', 1, w)
            dy = centres[None, :, None] - track.y[idx, None, None].astype(np.float32)   # (t', h, 1)
            half = track.size[idx, None, None].astype(np.float32) / 2
            k, rows, cols = np.nonzero(_shape_mask(obj.shape, dx, dy, half))            # covered pixels
            frame = idx[k]
            colour = track.rgb[frame].astype(np.float32)                                # (pixels, 3)
            alpha = track.alpha[frame, None].astype(np.float32)
            under = frames[frame, rows, cols]
            frames[frame, rows, cols] = under + alpha * (colour - under)
        return np.clip(np.rint(frames), 0, 255).astype(np.uint8)

    def frame_times(self, fps: float | None = None) -> np.ndarray:
        """Time of every frame of the encoded video: k / fps for k < round(duration * fps)."""
        fps = fps or self.fps
        return np.arange(max(1, round(self.duration * fps))) / fps

    def sample_times(self, num_frames: int = 100, fps: float | None = None) -> np.ndarray:
        """The times `videoexpert.video.read_video` samples from the encoded file: linspace(0, N-1, n) // 1 / fps."""
        fps = fps or self.fps
        total = self.frame_times(fps).size
        return np.linspace(0, total - 1, num_frames).astype(np.int64) / fps

    def write_mp4(self, path: str | Path, fps: float | None = None, size: int | None = None, crf: int = 18,
                  chunk: int = 128) -> Path:
        """Encode the whole video (H.264, yuv420p) with imageio-ffmpeg's ffmpeg, rendering `chunk` frames at a time."""
        import imageio_ffmpeg

        fps, size, path = fps or self.fps, size or self.size, Path(path)
        if size % 2:
            raise ConfigError(f"H.264 with yuv420p needs an even frame size, got {size}")
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{size}x{size}", "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
               "-crf", str(crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
        times = self.frame_times(fps)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for i in range(0, times.size, chunk):
                proc.stdin.write(self.render(times[i:i + chunk], size).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise VideoExpertError(f"ffmpeg failed to write {path}: {err.strip()}")
        return path

    # -------------------------------------------------------------------------------- ground truth

    def colour_at(self, obj: int, t: float) -> str:
        """Name of an object's colour at time t (the nearer one half-way through a change)."""
        colour = self.objects[obj].colour
        for ev in self._object_events(obj):
            if ev.kind == "change_colour" and t >= (ev.start + ev.end) / 2:
                colour = ev.colour
        return colour

    def event_facts(self) -> list[EventFacts]:
        facts = []
        for i, ev in enumerate(self.events):
            obj = self.objects[ev.object]
            facts.append(EventFacts(i, ev.object, ev.kind, obj.shape, self.colour_at(ev.object, ev.start),
                                    ev.start, ev.end, ev.direction, ev.colour))
        return facts

    def grounding_queries(self) -> list[GroundingItem]:
        """One query per event (events are unique by construction), in event order."""
        return [GroundingItem(event_phrase(f, self.seed, self.split, f.index, "query"), f.start, f.end, f.index)
                for f in self.event_facts()]

    def saliency(self, item: GroundingItem | CaptionItem | QAItem, times_s) -> np.ndarray:
        """Per-frame relevance, 1.0 inside the item's window (ends included) and 0.0 outside: (t,) float32."""
        t = np.asarray(times_s, dtype=np.float64)
        return ((t >= item.start) & (t <= item.end)).astype(np.float32)

    def dense_captions(self) -> list[CaptionItem]:
        items = [CaptionItem(f.start, f.end, caption_sentence(f, self.seed, self.split, f.index, "caption"), f.index)
                 for f in self.event_facts()]
        return sorted(items, key=lambda c: (c.start, c.end, c.event))

    def qa_items(self) -> list[QAItem]:
        objects = [(o.shape, self.object_colours(i)) for i, o in enumerate(self.objects)]
        return _qa_items(self.event_facts(), list(COLOURS), SHAPES, objects, self.seed, self.split)

    def object_colours(self, obj: int) -> list[str]:
        return [self.objects[obj].colour] + [ev.colour for ev in self._object_events(obj) if ev.kind == "change_colour"]

    def frame_description(self, t_s: float) -> str:
        """What a single frame at t_s shows: visible objects (opacity >= 0.5) left to right, and the background."""
        seen = []
        for i, (obj, tr) in enumerate(zip(self.objects, self.tracks([t_s]))):
            if tr.alpha[0] >= 0.5:
                seen.append((self.colour_at(i, t_s), obj.shape, float(tr.x[0]), float(tr.y[0]), float(tr.size[0])))
        return frame_sentence(sorted(seen, key=lambda o: (o[2], o[3])), self.background.kind)

    def _object_events(self, obj: int) -> list[WorldEvent]:
        return [ev for ev in self.events if ev.object == obj]   # already in time order, never overlapping


# ---------------------------------------------------------------------------------------------------- drawing

def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Pixels inside a shape of bounding-box half-side `half` centred at offset (0, 0); broadcasts to (t, h, w)."""
    if shape == "circle":
        inside = dx * dx + dy * dy <= half * half
    elif shape == "square":
        inside = (np.abs(dx) <= half) & (np.abs(dy) <= half)
    elif shape == "diamond":
        inside = np.abs(dx) + np.abs(dy) <= half
    elif shape == "triangle":  # apex up, base down; half-width grows from 0 at the top to `half` at the bottom
        inside = (np.abs(dy) <= half) & (np.abs(dx) <= (dy + half) / 2)
    else:
        raise ConfigError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    return inside


@functools.lru_cache(maxsize=64)
def _background_image(bg: Background, size: int) -> np.ndarray:
    """(size, size, 3) float32, deterministic from the spec; read-only (shared by the cache)."""
    c = (np.arange(size) + 0.5) / size
    x, y = np.meshgrid(c, c)                                   # (h, w) each
    base, accent = np.array(bg.base, float), np.array(bg.accent, float)
    if bg.kind == "tinted":
        mix = np.zeros_like(x)
    elif bg.kind == "gradient":
        coord = {"horizontal": x, "vertical": y, "diagonal": (x + y) / 2}[bg.orientation]
        mix = coord
    elif bg.kind == "stripes":
        coord = {"horizontal": y, "vertical": x, "diagonal": (x + y) / math.sqrt(2)}[bg.orientation]
        mix = (np.floor(coord / (bg.scale / 2)) % 2).astype(float)
    elif bg.kind == "checker":
        mix = ((np.floor(x / bg.scale) + np.floor(y / bg.scale)) % 2).astype(float)
    elif bg.kind == "noise":
        cells = max(2, round(1 / bg.scale))
        grid = np.random.default_rng(bg.seed).random((cells, cells))
        mix = grid[np.minimum((y * cells).astype(int), cells - 1), np.minimum((x * cells).astype(int), cells - 1)]
    else:
        raise ConfigError(f"unknown background {bg.kind!r}; known: {', '.join(BACKGROUNDS)}")
    image = (base + mix[..., None] * (accent - base)).astype(np.float32)
    image.setflags(write=False)
    return image


# ---------------------------------------------------------------------------------------------------- generation

def generate_video(seed: int, split: str = "train", size: int = 64, fps: float = 10.0,
                   duration: float | None = None) -> WorldVideo:
    """The video of `seed` in `split`: deterministic, and cheap (no pixels are drawn)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if size < 16 or size % 2:
        raise ConfigError(f"size must be an even number of pixels >= 16, got {size}")
    if fps <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    if duration is not None and not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        raise ConfigError(f"duration must lie in [{MIN_DURATION_S}, {MAX_DURATION_S}] s, got {duration}")
    rng = np.random.default_rng([int(seed), SPLITS.index(split), 0x5EED])
    tenths = round(duration * 10) if duration is not None else int(rng.integers(MIN_DURATION_S * 10, MAX_DURATION_S * 10 + 1))
    background = _sample_background(rng)
    num_objects = int(rng.choice([1, 2, 3], p=[0.2, 0.4, 0.4]))
    # Scenes whose objects would touch are drawn again; after _ATTEMPTS_PER_COUNT misses, with one object fewer
    # (a single object always fits, so every seed gives a video).
    for attempt in range(_ATTEMPTS_PER_COUNT * num_objects):
        count = num_objects - attempt // _ATTEMPTS_PER_COUNT
        objects, events = _sample_scene(rng, tenths, split, count)
        video = WorldVideo(int(seed), split, tenths / 10, float(fps), size, background, objects, events)
        if _fits(video):
            return video
    raise AssertionError(f"no valid scene for seed {seed}")  # unreachable


def generate_videos(split: str, num_videos: int, start_seed: int = 0, **kwargs) -> list[WorldVideo]:
    """Videos of seeds start_seed, start_seed + 1, ... of one split."""
    return [generate_video(seed, split, **kwargs) for seed in range(start_seed, start_seed + num_videos)]


def _sample_background(rng: np.random.Generator) -> Background:
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    grey = rng.uniform(35, 90)
    base = np.clip(grey + rng.uniform(-18, 18, 3), 15, 125)
    accent = np.clip(base + rng.choice([-1, 1]) * rng.uniform(18, 35) + rng.uniform(-8, 8, 3), 10, 130)
    return Background(kind, tuple(int(v) for v in base), tuple(int(v) for v in accent),
                      float(round(rng.uniform(0.08, 0.25), 3)),
                      ("horizontal", "vertical", "diagonal")[rng.integers(3)], int(rng.integers(2**31)))


def _sample_scene(rng: np.random.Generator, tenths: int, split: str, num_objects: int):
    duration = tenths / 10
    held_out = set(HELD_OUT_PAIRS)
    max_per_object = 1 + (duration >= 20) + (duration >= 35)
    used_colours: set[str] = set()
    pairs_chosen = []  # first every object's colour and shape, then what they do (colour changes take the rest)
    for i in range(num_objects):
        if split == "test" and i == 0:
            colour, shape = HELD_OUT_PAIRS[rng.integers(len(HELD_OUT_PAIRS))]
        else:
            pairs = [(c, s) for c in COLOURS for s in SHAPES
                     if c not in used_colours and (split == "test" or (c, s) not in held_out)]
            colour, shape = pairs[rng.integers(len(pairs))]
        used_colours.add(colour)
        pairs_chosen.append((colour, shape))
    objects, events = [], []
    for i, (colour, shape) in enumerate(pairs_chosen):
        count = int(rng.integers(1, max_per_object + 1))
        if num_objects == 1:
            count = max(count, 2)
        windows = _sample_windows(rng, tenths, count)
        appear = rng.random() < 0.35
        disappear = len(windows) >= (2 if appear else 1) and rng.random() < 0.3
        size = float(rng.uniform(MIN_SIZE, 0.3))
        lo, hi = MARGIN + size / 2, 1 - MARGIN - size / 2
        for _ in range(20):  # start away from the objects placed so far
            x, y = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
            if all(max(abs(x - o.x), abs(y - o.y)) > (size + o.size) / 2 + SEPARATION for o in objects):
                break
        state = {"x": x, "y": y, "size": size, "colour": colour}
        obj = WorldObject(shape, colour, round(state["x"], 4), round(state["y"], 4), round(size, 4), not appear)
        state["x"], state["y"], state["size"] = obj.x, obj.y, obj.size
        done: set[tuple] = set()
        for j, (start, end) in enumerate(windows):
            subject = state["colour"]  # who does it, as named when the event starts
            if j == 0 and appear:
                ev = WorldEvent("appear", i, start, end)
            elif j == len(windows) - 1 and disappear:
                ev = WorldEvent("disappear", i, start, end)
            else:
                ev = _sample_action(rng, i, start, end, state, shape, split, used_colours, done)
                if ev is None:
                    continue
            done.add((subject, ev.kind, ev.direction))
            events.append(ev)
        objects.append(obj)
    events.sort(key=lambda e: (e.start, e.end, e.object))
    return tuple(objects), tuple(events)


def _sample_windows(rng: np.random.Generator, tenths: int, count: int) -> list[tuple[float, float]]:
    """`count` non-overlapping windows (in whole tenths of a second) with the length and gap rules of the module."""
    min_len = max(15, math.ceil(0.04 * tenths))       # max(1.5 s, 4 %)
    max_len = max(min_len, min(round(0.4 * tenths), 120))
    gap = max(10, math.ceil(0.03 * tenths))            # max(1 s, 3 %)
    while count > 1 and count * min_len + (count - 1) * gap > tenths:
        count -= 1
    lengths = [min_len + int((max_len - min_len) * rng.random() ** 1.5) for _ in range(count)]
    while sum(lengths) + (count - 1) * gap > tenths:   # shorten the longest until they fit
        k = int(np.argmax(lengths))
        lengths[k] = max(min_len, lengths[k] - 5)
    free = tenths - sum(lengths) - (count - 1) * gap
    cuts = np.sort(rng.integers(0, free + 1, size=count))
    windows, t = [], 0
    for k in range(count):
        start = t + int(cuts[k]) - (int(cuts[k - 1]) if k else 0)
        windows.append((start / 10, (start + lengths[k]) / 10))
        t = start + lengths[k] + gap
    return windows


def _sample_action(rng, obj: int, start: float, end: float, state: dict, shape: str, split: str,
                   used_colours: set[str], done: set[tuple]) -> WorldEvent | None:
    """A move, grow, shrink or colour change that keeps the object inside the frame; updates `state`."""
    x, y, size, colour = state["x"], state["y"], state["size"], state["colour"]
    options: list[tuple[float, str, object]] = []
    for direction, (dx, dy) in DIRECTIONS.items():
        pos = x if dx else y
        room = (pos if (dx or dy) < 0 else 1 - pos) - size / 2 - MARGIN
        if room >= MIN_MOVE and (colour, "move", direction) not in done:
            options.append((0.7, "move", (direction, room)))
    if size * 1.45 <= MAX_SIZE and (colour, "grow", None) not in done:
        options.append((1.0, "grow", None))
    if size / 1.45 >= MIN_SIZE and (colour, "shrink", None) not in done:
        options.append((1.0, "shrink", None))
    new_colours = [c for c in COLOURS if c not in used_colours and (split == "test" or (c, shape) not in HELD_OUT_PAIRS)]
    if new_colours:
        options.append((1.2, "change_colour", new_colours))
    if not options:
        return None
    weights = np.array([w for w, _, _ in options])
    _, kind, arg = options[rng.choice(len(options), p=weights / weights.sum())]
    if kind == "move":
        direction, room = arg
        amount = round(float(rng.uniform(MIN_MOVE, min(MAX_MOVE, room))), 4)
        dx, dy = DIRECTIONS[direction]
        state["x"], state["y"] = x + dx * amount, y + dy * amount
        return WorldEvent("move", obj, start, end, direction=direction, amount=amount)
    if kind in ("grow", "shrink"):
        factor = rng.uniform(1.4, min(2.0, MAX_SIZE / size)) if kind == "grow" else rng.uniform(max(0.5, MIN_SIZE / size), 1 / 1.4)
        amount = round(abs(size * factor - size), 4)
        state["size"] = size + amount if kind == "grow" else size - amount
        return WorldEvent(kind, obj, start, end, amount=amount)
    new = arg[rng.integers(len(arg))]
    used_colours.add(new)
    state["colour"] = new
    return WorldEvent("change_colour", obj, start, end, colour=new)


def _fits(video: WorldVideo) -> bool:
    """Every object inside the frame and no two visible objects' boxes closer than SEPARATION, at all times."""
    if any(not video._object_events(i) for i in range(len(video.objects))):
        return False   # every object does something (in test, object 0 carries the held-out pair)
    times = np.unique(np.concatenate([np.linspace(0, video.duration, 121),
                                      [t for ev in video.events for t in (ev.start, ev.end)]]))
    tracks = video.tracks(times)
    for tr in tracks:
        half = tr.size / 2
        if (np.minimum(tr.x, tr.y) - half < MARGIN - 1e-6).any() or (np.maximum(tr.x, tr.y) + half > 1 - MARGIN + 1e-6).any():
            return False
    for a in range(len(tracks)):
        for b in range(a + 1, len(tracks)):
            ta, tb = tracks[a], tracks[b]
            reach = (ta.size + tb.size) / 2 + SEPARATION
            clash = (np.abs(ta.x - tb.x) < reach) & (np.abs(ta.y - tb.y) < reach) & (ta.alpha > 0) & (tb.alpha > 0)
            if clash.any():
                return False
    return True


__all__ = ["WorldVideo", "WorldObject", "WorldEvent", "Background", "Track", "GroundingItem", "CaptionItem", "QAItem",
           "generate_video", "generate_videos", "text_corpus", "COLOURS", "SHAPES", "DIRECTIONS", "EVENT_KINDS",
           "BACKGROUNDS", "SPLITS", "HELD_OUT_PAIRS"]
