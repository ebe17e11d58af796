"""bench/build_long_benchmark.py on three short clips: deterministic, and its ground truth consistent with the files;
bench/bench_long.py scores a hit on any occurrence of a recurring query."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                    # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder():
    return load("build_long_benchmark")


@pytest.fixture(scope="module")
def built(builder, tmp_path_factory):
    out = tmp_path_factory.mktemp("long-bench")
    assert builder.main(["--out", str(out), "--num-videos", "3", "--duration", "10", "--size", "64"]) == 0
    return out


def test_builder_is_deterministic(builder, built, tmp_path):
    builder.build(tmp_path, num_videos=3, duration=10, size=64, log=lambda _: None)
    assert (tmp_path / "ground_truth.json").read_bytes() == (built / "ground_truth.json").read_bytes()


def test_ground_truth_matches_the_files(builder, built):
    truth = json.loads((built / "ground_truth.json").read_text())
    assert truth["seeds"] == [500_000, 500_002] and truth["num_videos"] == 3     # demo evaluate's test seeds
    clips, fps = truth["clips"], truth["fps"]
    assert fps == 10.0 and [c["seed"] for c in clips] == [500_000, 500_001, 500_002]
    offset = 0
    for clip in clips:
        frames, clip_fps, _ = builder.count_frames(built / clip["file"])
        assert (clip["frames"], clip_fps, clip["duration"]) == (frames, fps, frames / fps) == (100, fps, 10.0)
        assert clip["offset_frame"] == offset and clip["offset"] == pytest.approx(offset / fps, abs=1e-9)
        offset += frames
    frames, _, duration = builder.count_frames(built / truth["video"])
    assert frames == truth["frames"] == offset and truth["duration"] == pytest.approx(offset / fps)
    assert duration == pytest.approx(offset / fps, abs=0.5 / fps)

    queries = truth["queries"]
    assert len({q["id"] for q in queries}) == len(queries) and {q["clip"] for q in queries} == {0, 1, 2}
    for q in queries:
        clip = clips[q["clip"]]
        assert q["offset"] == clip["offset"]
        assert 0 <= q["clip_start"] < q["clip_end"] <= clip["duration"]
        assert q["start"] == pytest.approx(clip["offset"] + q["clip_start"])
        assert q["end"] == pytest.approx(clip["offset"] + q["clip_end"])
        assert clip["offset"] <= q["start"] < q["end"] <= clip["offset"] + clip["duration"]
        same_text = [[o["start"], o["end"]] for o in queries if o["query"] == q["query"]]
        assert q["occurrences"] == same_text and [q["start"], q["end"]] in q["occurrences"]


def test_a_hit_on_any_occurrence_counts():
    bench = load("bench_long")
    queries = [{"id": "a#0", "clip_name": "a", "query": "the red circle fades in"},
               {"id": "b#0", "clip_name": "b", "query": "the blue square moves left"}]
    occurrences = {"a#0": [(10.0, 20.0), (110.0, 120.0)], "b#0": [(50.0, 60.0)]}
    run = bench.ModeRun("long mode", segments={"a#0": [(110.0, 120.0)], "b#0": [(0.0, 1.0), (50.0, 60.0)]},
                        found={"a#0": True, "b#0": True}, query_s=[0.1, 0.1])
    s = bench.score(run, queries, occurrences)
    assert (s["R1@0.5"], s["mIoU"], s["R@3 0.5"], s["R@all 0.5"], s["not found"]) == (0.5, 0.5, 1.0, 1.0, 0.0)
    run.segments["b#0"], run.found["b#0"] = [], False       # "not found": no segment, a miss
    s = bench.score(run, queries, occurrences)
    assert (s["R1@0.5"], s["R@3 0.5"], s["R@all 0.5"], s["not found"]) == (0.5, 0.5, 0.5, 0.5)
