"""The demo world: deterministic specs, pixels that agree with the ground truth, a real mp4, sound text items."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from demo.world import (COLOURS, DIRECTIONS, HELD_OUT_PAIRS, SHAPES, SPLITS, WorldVideo,
                                        generate_video, generate_videos, text_corpus)
from videoexpert.errors import ConfigError

SEEDS = range(300)


@pytest.fixture(scope="module")
def videos() -> dict[str, list[WorldVideo]]:
    return {split: generate_videos(split, len(SEEDS)) for split in SPLITS}


@pytest.fixture(scope="module")
def train(videos) -> list[WorldVideo]:
    return videos["train"]


def find_event(videos, kind, **fields):
    """The first (video, event index) with an event of `kind` matching `fields`, in videos with 1 object first."""
    for video in sorted(videos, key=lambda v: len(v.objects)):
        for i, ev in enumerate(video.events):
            if ev.kind == kind and all(getattr(ev, k) == v for k, v in fields.items()):
                return video, i
    raise LookupError(kind)


def colour_pixels(frames: np.ndarray, colour: str, tolerance: int = 40) -> np.ndarray:
    """(t, h, w) mask of pixels within `tolerance` (per channel) of a named object colour."""
    target = np.array(COLOURS[colour], dtype=np.int16)
    return (np.abs(frames.astype(np.int16) - target).max(axis=-1) <= tolerance)


def centroid(mask: np.ndarray) -> np.ndarray:
    """(t, h, w) -> (t, 2) mean (x, y) of the mask's pixels in each frame."""
    ys, xs = np.meshgrid(np.arange(mask.shape[1]), np.arange(mask.shape[2]), indexing="ij")
    area = mask.sum(axis=(1, 2))
    return np.stack([(mask * xs).sum(axis=(1, 2)) / area, (mask * ys).sum(axis=(1, 2)) / area], axis=1)


# ---------------------------------------------------------------------------------------------------- specs

def test_same_seed_same_video_and_pixels():
    a, b = generate_video(7, "train"), generate_video(7, "train")
    assert a == b
    times = a.sample_times(20)
    np.testing.assert_array_equal(a.render(times), b.render(times))
    assert a.grounding_queries() == b.grounding_queries() and a.qa_items() == b.qa_items()


def test_different_seeds_and_splits_differ(train):
    assert len({json.dumps(v.to_dict()["events"]) for v in train}) == len(train)
    assert generate_video(7, "train") != generate_video(7, "test")
    a, b = generate_video(1), generate_video(2)
    assert not np.array_equal(a.render([5.0]), b.render([5.0]))


def test_json_round_trip(videos):
    for video in videos["test"][:50]:
        restored = WorldVideo.from_dict(json.loads(json.dumps(video.to_dict())))
        assert restored == video
        assert restored.dense_captions() == video.dense_captions()


def test_bad_arguments_raise():
    with pytest.raises(ConfigError, match="split"):
        generate_video(0, "dev")
    with pytest.raises(ConfigError, match="even"):
        generate_video(0, size=63)
    with pytest.raises(ConfigError, match="seed"):
        generate_video(-1)
    with pytest.raises(ConfigError, match="duration"):
        generate_video(0, duration=5)


def test_world_shape(videos):
    all_videos = [v for split in SPLITS for v in videos[split]]
    assert Counter(len(v.objects) for v in all_videos).keys() == {1, 2, 3}
    assert Counter(ev.kind for v in all_videos for ev in v.events).keys() == {
        "appear", "disappear", "move", "grow", "shrink", "change_colour"}
    assert {ev.direction for v in all_videos for ev in v.events if ev.kind == "move"} == set(DIRECTIONS)
    assert {v.background.kind for v in all_videos} == {"noise", "stripes", "checker", "gradient", "tinted"}
    overlapping = 0
    for v in all_videos:
        assert 10 <= v.duration <= 60
        assert all(v._object_events(i) for i in range(len(v.objects)))
        spacing = v.duration / 100
        for ev in v.events:
            assert 0 <= ev.start < ev.end <= v.duration
            assert 1.5 - 1e-9 <= ev.end - ev.start <= max(1.5, 0.4 * v.duration) + 1e-9
            # at least 3 of the 100 frames see the event, on the file's grid and on the model's (i + 1) / n grid
            assert ((v.sample_times(100) >= ev.start) & (v.sample_times(100) <= ev.end)).sum() >= 3
            grid = np.arange(1, 101) * spacing
            assert ((grid >= ev.start) & (grid <= ev.end)).sum() >= 3
        for i in range(len(v.objects)):  # an object's own events never overlap
            own = v._object_events(i)
            assert all(b.start - a.end >= 1.0 - 1e-9 for a, b in zip(own, own[1:]))
        overlapping += any(a.object != b.object and a.start < b.end and b.start < a.end
                           for a in v.events for b in v.events)
    assert overlapping > 0.2 * len(all_videos)


def test_held_out_pairs_never_in_train_always_in_test(videos):
    held_out = set(HELD_OUT_PAIRS)
    assert len(held_out) == 3 and all(c in COLOURS and s in SHAPES for c, s in held_out)
    for split in ("train", "val"):
        for v in videos[split]:
            pairs = {(c, o.shape) for i, o in enumerate(v.objects) for c in v.object_colours(i)}
            assert not pairs & held_out, (split, v.seed, pairs)
    seen_in_train = {(c, o.shape) for v in videos["train"] for i, o in enumerate(v.objects) for c in v.object_colours(i)}
    assert len(seen_in_train) == len(COLOURS) * len(SHAPES) - 3     # every other pair is trained on
    for v in videos["test"]:
        subjects = {(f.colour, f.shape) for f in v.event_facts()}
        assert subjects & held_out, v.seed
        assert any(c in q.query and s in q.query for q in v.grounding_queries() for c, s in held_out)


# ---------------------------------------------------------------------------------------------------- pixels

def test_render_shape_and_only_requested_frames():
    v = generate_video(3, size=96)
    frames = v.render(np.array([0.0, 1.25, v.duration]))
    assert frames.shape == (3, 96, 96, 3) and frames.dtype == np.uint8
    assert v.render(np.array([1.25]), size=32).shape == (1, 32, 32, 3)


def test_appear_and_disappear_pixels(train):
    for kind in ("appear", "disappear"):
        v, i = find_event(train, kind)
        ev = v.events[i]
        colour = v.colour_at(ev.object, ev.start)
        before, after = colour_pixels(v.render([ev.start - 0.05, ev.end + 0.05]), colour).sum(axis=(1, 2))
        absent, present = (before, after) if kind == "appear" else (after, before)
        assert absent == 0 and present >= 40, (kind, v.seed, before, after)


@pytest.mark.parametrize("direction", list(DIRECTIONS))
def test_move_pixels(train, direction):
    v, i = find_event(train, "move", direction=direction)
    ev = v.events[i]
    colour = v.colour_at(ev.object, ev.start)
    times = np.linspace(ev.start, ev.end, 5)
    centres = centroid(colour_pixels(v.render(times), colour))
    step = np.diff(centres, axis=0)                                  # (4, 2) pixels per step
    dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[direction]  # image rows grow down
    along = step[:, 0] * dx + step[:, 1] * dy
    assert (along > 0).all(), (v.seed, centres)
    travelled = ev.amount * v.size
    assert abs(along.sum() - travelled) <= 2.0
    # still before and after the window
    still = centroid(colour_pixels(v.render([ev.start - 0.5, ev.start, ev.end, ev.end + 0.5]), colour))
    np.testing.assert_allclose(still[0], still[1], atol=0.01)
    np.testing.assert_allclose(still[2], still[3], atol=0.01)


@pytest.mark.parametrize("kind", ["grow", "shrink"])
def test_size_pixels(train, kind):
    v, i = find_event(train, kind)
    ev = v.events[i]
    colour = v.colour_at(ev.object, ev.start)
    area = colour_pixels(v.render(np.linspace(ev.start, ev.end, 4)), colour).sum(axis=(1, 2))
    change = np.diff(area.astype(int))
    assert (change > 0).all() if kind == "grow" else (change < 0).all(), (v.seed, area)
    assert (area[-1] / area[0] > 1.8) if kind == "grow" else (area[-1] / area[0] < 0.55)


def test_change_colour_pixels(train):
    v, i = find_event(train, "change_colour")
    ev = v.events[i]
    old, new = v.colour_at(ev.object, ev.start), ev.colour
    frames = v.render([ev.start - 0.05, ev.start, ev.end, ev.end + 0.05])
    old_px, new_px = colour_pixels(frames, old).sum(axis=(1, 2)), colour_pixels(frames, new).sum(axis=(1, 2))
    assert (old_px[:2] >= 40).all() and (new_px[:2] == 0).all()
    assert (old_px[2:] == 0).all() and (new_px[2:] >= 40).all()
    assert old_px[0] == new_px[3]                                    # same shape, same pixels, other colour


def test_objects_visible_and_apart(videos):
    """Every visible object shows enough pixels of its own colour in every sampled frame."""
    for v in videos["test"][:40]:
        times = v.sample_times(25)
        frames = v.render(times)
        for i, tr in enumerate(v.tracks(times)):
            for k, t in enumerate(times):
                if tr.alpha[k] == 1.0:
                    count = colour_pixels(frames[k:k + 1], v.colour_at(i, t), tolerance=10).sum()
                    inside = tr.rgb[k].round() == np.array(COLOURS[v.colour_at(i, t)])
                    if inside.all():   # not half-way through a colour change
                        assert count >= 40, (v.seed, i, t, count)


def test_frame_description_matches_state(train):
    v, i = find_event(train, "appear")
    ev = v.events[i]
    shape, colour = v.objects[ev.object].shape, v.colour_at(ev.object, ev.start)
    assert f"{colour} {shape}" not in v.frame_description(ev.start)
    assert f"{colour} {shape}" in v.frame_description(ev.end)
    assert v.frame_description(ev.end).endswith("background")


def test_write_mp4_decodes_back(tmp_path):
    from videoexpert.video import probe_video, read_video

    v = generate_video(11, "test", duration=12.0)
    path = v.write_mp4(tmp_path / "world.mp4")
    info = probe_video(path)
    assert abs(info.duration - v.duration) < 0.15 and info.total_frames == 120
    clip = read_video(path, num_frames=100, size=v.size)
    times = np.array(clip.times)
    np.testing.assert_allclose(times, v.sample_times(100), atol=1e-3)
    decoded = clip.frames.permute(0, 2, 3, 1).numpy().astype(np.float32)
    rendered = v.render(times).astype(np.float32)
    assert np.abs(decoded - rendered).mean() < 4.0


# ---------------------------------------------------------------------------------------------------- text

def test_grounding_queries_unique_and_windows_inside(videos):
    for v in videos["train"] + videos["test"]:
        queries = v.grounding_queries()
        assert len(queries) == len(v.events)
        assert len({q.query for q in queries}) == len(queries)
        keys = [(f.colour, f.shape, f.signature) for f in v.event_facts()]
        assert len(set(keys)) == len(keys), v.seed                      # unambiguous, not merely differently worded
        for q, f in zip(queries, v.event_facts()):
            assert 0 <= q.start < q.end <= v.duration
            assert f.colour in q.query and f.shape in q.query


def test_saliency_marks_the_window():
    v = generate_video(5)
    q = v.grounding_queries()[0]
    times = v.sample_times(100)
    s = v.saliency(q, times)
    assert s.shape == (100,) and set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_array_equal(s == 1.0, (times >= q.start) & (times <= q.end))


def test_dense_captions_sorted_and_complete(videos):
    for v in videos["train"]:
        captions = v.dense_captions()
        assert len(captions) == len(v.events)
        assert captions == sorted(captions, key=lambda c: (c.start, c.end))
        assert all(c.sentence[0].isupper() and c.sentence.endswith(".") for c in captions)
        assert all(0 <= c.start < c.end <= v.duration for c in captions)


def test_qa_items_well_formed(videos):
    kinds = Counter()
    for v in videos["train"] + videos["test"]:
        items = v.qa_items()
        assert items
        for qa in items:
            kinds[qa.kind] += 1
            assert 4 <= len(qa.options) <= 5 and len(set(qa.options)) == len(qa.options)
            assert qa.options[qa.answer_index] == qa.answer
            assert 0 <= qa.start < qa.end <= v.duration
            assert qa.question.endswith("?")
            ev = v.events[qa.event]
            assert (qa.start, qa.end) == (ev.start, ev.end)
            if qa.kind == "new_colour":
                assert qa.answer == ev.colour
            if qa.kind == "direction":
                assert qa.answer == ev.direction
            if qa.kind == "which_shape":
                assert qa.answer == f"the {v.objects[ev.object].shape}"
    assert set(kinds) == {"action", "which_shape", "which_object", "new_colour", "actor_colour", "direction"}


def test_qa_examples_from_the_brief():
    """'What colour does the circle turn?' -> a colour; 'What does X do?' -> 'it moves up' style answers."""
    found = {}
    for seed in range(200):
        for qa in generate_video(seed).qa_items():
            found.setdefault(qa.kind, qa)
    assert found["action"].answer.startswith("it ")
    assert found["new_colour"].answer in COLOURS
    assert found["direction"].answer in DIRECTIONS
    assert found["which_shape"].answer in {f"the {s}" for s in SHAPES}


def test_wording_varies_across_seeds(train):
    moves = [q.query for v in train for q, ev in zip(v.grounding_queries(), v.events) if ev.kind == "move"]
    verbs = Counter(q.split()[3] for q in moves)                       # "the red circle <verb> ..."
    assert len(verbs) >= 4 and max(verbs.values()) < 0.5 * len(moves)
    questions = Counter(qa.question.split()[0] + " " + qa.question.split()[1] for v in train for qa in v.qa_items())
    assert len(questions) >= 8
    captions = {c.sentence for v in train for c in v.dense_captions()}
    assert len(captions) > 300


def test_text_corpus_covers_every_text(train):
    corpus = list(text_corpus(train[:20]))
    for v in train[:20]:
        for q in v.grounding_queries():
            assert q.query in corpus
        for qa in v.qa_items():
            assert qa.question in corpus and qa.answer in corpus
        assert v.dense_captions()[0].sentence in corpus
        assert v.frame_description(0.0) in corpus
