"""The demo model and example videos that ship in the repository: they load, answer every task in the schema,
and are what the app and the CLI use by default."""

import dataclasses
import json
from pathlib import Path

import pytest

from videoexpert import Predictor, default_model_source, load_model
from demo import DemoRecipe

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "checkpoints" / "videoexpert-demo"
ASSETS = sorted((ROOT / "assets").glob("*.mp4"))


@pytest.fixture(scope="module")
def demo():
    return load_model(DEMO, profile="cpu")


def test_the_demo_model_is_the_default(monkeypatch):
    monkeypatch.delenv("VIDEOEXPERT_MODEL", raising=False)
    assert Path(default_model_source()) == DEMO
    size = sum(f.stat().st_size for f in DEMO.rglob("*") if f.is_file())
    assert size < 40 * 2**20, f"the shipped checkpoint is {size / 2**20:.1f} MiB"
    scores = json.loads((DEMO / "demo_scores.json").read_text())
    assert scores["test"]["counts"]["grounding"] >= 200 and "grounding/R1@0.5" in scores["test"]["metrics"]
    # `python -m demo build` with no options is the recipe that made the shipped model
    assert scores["recipe"] == json.loads(json.dumps(dataclasses.asdict(DemoRecipe())))


@pytest.mark.parametrize("video", ASSETS, ids=[v.stem for v in ASSETS])
def test_the_demo_answers_every_task_on_the_examples(demo, video):
    truth = json.loads(video.with_suffix(".json").read_text())
    features = Predictor(demo).encode(video)
    assert abs(features.duration - truth["video"]["duration"]) < 0.2
    query = truth["grounding"][0]["query"]
    qa = truth["qa"][0] if truth["qa"] else {"question": "What happens?", "options": ["a", "b"]}
    for task, q, options in (("grounding", query, None), ("highlight", query, None), ("captioning", "", None),
                             ("qa", qa["question"], qa["options"])):
        pred = Predictor(demo).predict(features, task, q, options, max_new_tokens=96)
        d = pred.to_dict()
        assert d["model"] == "videoexpert-demo" and d["task"] == task
        assert all(0 <= s["start"] <= s["end"] <= d["duration"] + 1e-3 for s in d["segments"])
        if task in ("grounding", "highlight", "qa"):
            assert d["segments"], task
        if task == "captioning":   # the model writes in its world's language
            assert "During" in d["answer"] and any(w in d["answer"] for w in ("circle", "square", "triangle", "diamond"))


@pytest.mark.slow
def test_world_scores_split_seen_and_held_out_pairs(demo):
    """The held-out split reports each metric over items about a seen colour-shape pair and about a held-out one."""
    from demo.world import HELD_OUT_PAIRS, generate_videos
    from demo.evaluate import PAIR_SUBSETS, evaluate_world

    videos = generate_videos("test", 2, start_seed=500_000)
    scores = evaluate_world(demo, videos, tasks=("grounding", "qa"))
    # an event is about a held-out pair when its object shows one as the event starts or turns into one
    held_events = [{i for i, ev in enumerate(v.events) for colour in (v.colour_at(ev.object, ev.start), ev.colour)
                    if (colour, v.objects[ev.object].shape) in HELD_OUT_PAIRS} for v in videos]
    assert all(held_events)                                 # every test video holds a held-out pair
    held_queries = sum(q.event in held for v, held in zip(videos, held_events) for q in v.grounding_queries())
    assert scores.by_pair_counts["held-out pairs"]["grounding"] == held_queries
    for task in ("grounding", "qa"):
        assert sum(scores.by_pair_counts[s][task] for s in PAIR_SUBSETS) == scores.counts[task]
    for name, value in scores.metrics.items():              # the overall value is the count-weighted mean
        task = name.split("/")[0]
        parts = [(scores.by_pair[s][name], scores.by_pair_counts[s][task]) for s in PAIR_SUBSETS]
        assert value == pytest.approx(sum(v * n for v, n in parts) / sum(n for _, n in parts))
    assert "highlight/HIT@1" not in scores.metrics and "| seen pairs (n) | held-out pairs (n) |" in scores.table()
