"""The demo recipe end to end at toy scale: world -> backbones -> VideoExpert stages 1-2 -> scores -> saved model."""

import json

from videoexpert import VideoExpert
from videoexpert.demo import DemoRecipe, build


def test_reduced_recipe_runs_and_saves_a_loadable_model(tmp_path):
    recipe = DemoRecipe.reduced()
    report = build(recipe, tmp_path / "model", tmp_path / "work", tmp_path / "assets")
    scores = json.loads((tmp_path / "model" / "demo_scores.json").read_text())
    assert scores["test"] == report["test"]
    metrics = scores["test"]["metrics"]
    assert {"grounding/R1@0.5", "grounding/mIoU", "highlight/HIT@1", "qa/accuracy"} <= set(metrics)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert scores["test"]["counts"]["grounding"] >= recipe.num_test
    # the training stages really ran through the pipeline and logged their losses
    log = [json.loads(line) for line in (tmp_path / "work" / "stage2" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == recipe.stage2_steps and "giou_loss" in log[-1]
    refine = [json.loads(line) for line in (tmp_path / "work" / "stage2_refine" / "log.jsonl").read_text().splitlines()]
    assert refine[-1]["step"] == recipe.refine_steps     # the grounding-heavy second run, from stage 2's model
    config = json.loads((tmp_path / "work" / "stage2_refine" / "train_config.json").read_text())
    assert config["model"] == str(tmp_path / "work" / "stage2" / "final")
    assert [d["weight"] for d in config["data"]] == list(recipe.refine_task_weights.values())
    # the result is an ordinary saved VideoExpert, with an example video and its ground truth beside it
    model = VideoExpert.from_pretrained(tmp_path / "model")
    video = next((tmp_path / "assets").glob("*.mp4"))
    truth = json.loads(video.with_suffix(".json").read_text())
    pred = model.predict(video, "grounding", truth["grounding"][0]["query"])
    assert pred.model == "videoexpert-demo" and pred.segments
    assert abs(pred.duration - truth["video"]["duration"]) < 0.2
