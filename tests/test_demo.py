"""The demo recipe end to end at toy scale: world -> backbones -> VideoExpert stages 1-2 -> scores -> saved model."""

import dataclasses
import importlib
import json
from pathlib import Path

import pytest
import torch

from videoexpert import ConfigError, Predictor, load_model
from videoexpert.data.features import load_features
from demo.world import generate_videos
from demo import DemoRecipe, build
from demo.build import build_text_times_ablation, check_work_dir
from demo.evaluate import world_features


@pytest.mark.slow
def test_reduced_recipe_runs_and_saves_a_loadable_model(tmp_path):
    recipe = DemoRecipe.reduced()
    # first as on a GPU lease: features from 2 processes, training only; then the same call finishes the job
    assert build(recipe, tmp_path / "model", tmp_path / "work", workers=2, train_only=True) is None
    assert (tmp_path / "work" / "stage2_extend3" / "final" / "model.safetensors").is_file()
    assert not (tmp_path / "model").exists()
    assembled = load_model(tmp_path / "work" / "assembled").eval()
    video = generate_videos("train", 1)[0]
    saved = load_features(tmp_path / "work" / "data" / "features" / f"{video.name}.safetensors")
    with torch.inference_mode():
        direct = world_features(assembled, video)
    # the worker processes compute the same features (stored in fp16: equal up to its rounding)
    torch.testing.assert_close(saved.patch_tokens.float(), direct.patch_tokens, rtol=1e-3, atol=2e-3)
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
    # each extend run continues from the previous model on a world at least as large: the first num_train videos
    # and more (the last phase adds steps on the same world)
    first = json.loads((tmp_path / "work" / "data" / "grounding.json").read_text())
    for (num_videos, steps), run, start in zip(recipe.extend, ("stage2_extend", "stage2_extend2", "stage2_extend3"),
                                               ("stage2_refine", "stage2_extend", "stage2_extend2"), strict=True):
        config = json.loads((tmp_path / "work" / run / "train_config.json").read_text())
        assert config["model"] == str(tmp_path / "work" / start / "final") and config["max_steps"] == steps
        grounding = json.loads(Path(config["data"][0]["annotations"]).read_text())
        assert grounding[: len(first)] == first
        assert {r["id"] for r in grounding} == {v.name for v in generate_videos("train", num_videos)}
    card = json.loads((tmp_path / "model" / "config.json").read_text())["description"]  # the model card's text
    assert f"grounding R1@0.5 {metrics['grounding/R1@0.5']:.2f}" in card
    # the result is an ordinary saved VideoExpert, with an example video and its ground truth beside it
    model = load_model(tmp_path / "model")
    video = next((tmp_path / "assets").glob("*.mp4"))
    truth = json.loads(video.with_suffix(".json").read_text())
    pred = Predictor(model).predict(video, "grounding", truth["grounding"][0]["query"])
    assert pred.model == "videoexpert-demo" and pred.segments
    assert abs(pred.duration - truth["video"]["duration"]) < 0.2


@pytest.mark.slow
def test_ablation_trains_with_the_same_runs_as_the_build(tmp_path):
    recipe = DemoRecipe.reduced()
    build(recipe, tmp_path / "model", tmp_path / "work", train_only=True)
    assert build_text_times_ablation(recipe, tmp_path / "model", tmp_path / "work", train_only=True) is None
    for run, steps in (("stage2", recipe.stage2_steps), ("stage2_refine", recipe.refine_steps),
                       ("stage2_extend", recipe.extend[0][1]), ("stage2_extend2", recipe.extend[1][1]),
                       ("stage2_extend3", recipe.extend[2][1])):
        loc = json.loads((tmp_path / "work" / run / "train_config.json").read_text())
        text = json.loads((tmp_path / "work" / run.replace("stage2", "stage2_text") / "train_config.json").read_text())
        assert loc["max_steps"] == text["max_steps"] == steps and loc["batch_size"] == text["batch_size"]
        assert [d["weight"] for d in loc["data"]] == [d["weight"] for d in text["data"]]
        assert all(d["annotations"].endswith("_text.json") for d in text["data"])
    with pytest.raises(ConfigError, match="another recipe"):  # another budget than the build's compares nothing
        build_text_times_ablation(dataclasses.replace(recipe, refine_steps=3), tmp_path / "model", tmp_path / "work")


@pytest.mark.parametrize("extend", [[(5, 2)], [(16, 2), (14, 2)]], ids=["smaller than num_train", "shrinking"])
def test_extended_world_must_grow(tmp_path, extend):
    recipe = dataclasses.replace(DemoRecipe.reduced(), extend=extend)
    with pytest.raises(ConfigError, match="must be at least"):
        build(recipe, tmp_path / "model", tmp_path / "work", train_only=True)


def test_a_work_dir_is_shared_by_recipes_that_differ_only_in_later_extend_phases(tmp_path):
    recipe = dataclasses.replace(DemoRecipe.reduced(), extend=[(14, 2)])
    check_work_dir(recipe, tmp_path)
    longer = dataclasses.replace(recipe, extend=[(14, 2), (16, 2)])
    check_work_dir(longer, tmp_path)     # grows the world further in place
    check_work_dir(recipe, tmp_path)     # and the shorter recipe still finds its runs
    assert json.loads((tmp_path / "recipe.json").read_text())["extend"] == [[14, 2], [16, 2]]
    for other in (dataclasses.replace(recipe, extend=[(14, 3)]), dataclasses.replace(longer, stage2_steps=7)):
        with pytest.raises(ConfigError, match="another recipe"):
            check_work_dir(other, tmp_path)


def test_extend_phases_on_a_world_of_the_same_size_share_its_files(tmp_path, monkeypatch):
    """More steps on the same world (a phase as large as the one before it) writes its conversations once."""
    build_module = importlib.import_module("demo.build")  # the module, not the function it exports
    recipe = dataclasses.replace(DemoRecipe.reduced(), extend=[(14, 2), (14, 3), (16, 2)])
    written = []

    def write_world_data(model, videos, out, tag="", **kwargs):
        written.append(([v.name for v in videos], tag))
        return {"grounding": out / f"grounding{tag}.json"}

    monkeypatch.setattr(build_module, "write_world_data", write_world_data)
    train_videos = generate_videos("train", recipe.num_train, start_seed=recipe.seed * 1_000_000)
    files = build_module.extended_world_data(recipe, None, train_videos, tmp_path)
    assert [tag for _, tag in written] == ["_14videos", "_16videos"]
    for (names, _), size in zip(written, (14, 16), strict=True):
        assert names == [v.name for v in generate_videos("train", size, start_seed=recipe.seed * 1_000_000)]
    assert files[0] == files[1] != files[2]
