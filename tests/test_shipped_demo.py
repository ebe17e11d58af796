"""The demo model and example videos that ship in the repository: they load, answer every task in the schema,
and are what the app and the CLI use by default."""

import dataclasses
import json
from pathlib import Path

import pytest

from videoexpert import VideoExpert, default_model_source
from videoexpert.demo import DemoRecipe

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "checkpoints" / "videoexpert-demo"
ASSETS = sorted((ROOT / "assets").glob("*.mp4"))


@pytest.fixture(scope="module")
def demo():
    return VideoExpert.from_pretrained(DEMO, profile="cpu")


def test_the_demo_model_is_the_default(monkeypatch):
    monkeypatch.delenv("VIDEOEXPERT_MODEL", raising=False)
    assert Path(default_model_source()) == DEMO
    size = sum(f.stat().st_size for f in DEMO.rglob("*") if f.is_file())
    assert size < 40 * 2**20, f"the shipped checkpoint is {size / 2**20:.1f} MiB"
    scores = json.loads((DEMO / "demo_scores.json").read_text())
    assert scores["test"]["counts"]["grounding"] >= 200 and "grounding/R1@0.5" in scores["test"]["metrics"]
    # `python -m videoexpert.demo build` with no options is the recipe that made the shipped model
    assert scores["recipe"] == json.loads(json.dumps(dataclasses.asdict(DemoRecipe())))


@pytest.mark.parametrize("video", ASSETS, ids=[v.stem for v in ASSETS])
def test_the_demo_answers_every_task_on_the_examples(demo, video):
    truth = json.loads(video.with_suffix(".json").read_text())
    features = demo.encode_video(video)
    assert abs(features.duration - truth["video"]["duration"]) < 0.2
    query = truth["grounding"][0]["query"]
    qa = truth["qa"][0] if truth["qa"] else {"question": "What happens?", "options": ["a", "b"]}
    for task, q, options in (("grounding", query, None), ("highlight", query, None), ("captioning", "", None),
                             ("qa", qa["question"], qa["options"])):
        pred = demo.predict(features, task, q, options, max_new_tokens=96)
        d = pred.to_dict()
        assert d["model"] == "videoexpert-demo" and d["task"] == task
        assert all(0 <= s["start"] <= s["end"] <= d["duration"] + 1e-3 for s in d["segments"])
        if task in ("grounding", "highlight", "qa"):
            assert d["segments"], task
        if task == "captioning":   # the model writes in its world's language
            assert "During" in d["answer"] and any(w in d["answer"] for w in ("circle", "square", "triangle", "diamond"))
