"""The tiny model end to end on a real mp4: all four tasks, the result schema, save/load, bad checkpoints."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from videoexpert.prompts import answer_without_locs
from videoexpert import (CheckpointError, ConfigError, InputError, Prediction, VideoDecodeError, VideoExpert,
                         get_preset, list_presets)

TASKS = [("grounding", "the red square appears", None), ("highlight", "the red square appears", None),
         ("captioning", "", None), ("qa", "what colour is the square?", ["red", "green", "blue"])]


def check_schema(pred: Prediction, task: str, duration: float, n: int):
    d = json.loads(json.dumps(pred.to_dict()))
    assert d["task"] == task and d["num_frames"] == n and d["duration"] == pytest.approx(duration, abs=0.05)
    assert set(d) >= {"task", "query", "duration", "num_frames", "answer", "text", "segments", "saliency", "model",
                      "timings_s"}
    for seg in d["segments"]:
        assert 0.0 <= seg["start"] <= seg["end"] <= d["duration"] + 1e-3
        assert 0.0 <= seg["score"] <= 1.0 and isinstance(seg["label"], str)
    assert "[LOC]" not in d["text"] or task == "captioning" and not d["segments"]
    assert Prediction.from_dict(d).to_dict() == d            # the JSON form reads back to the same result
    assert all(isinstance(v, float) and v >= 0 for v in d["timings_s"].values())
    return d


@pytest.mark.parametrize("task,query,options", TASKS)
def test_predict_every_task_on_a_real_video(tiny_model, event_video, task, query, options):
    pred = tiny_model.predict(event_video, task, query, options, max_new_tokens=24)
    d = check_schema(pred, task, 6.0, tiny_model.config.num_frames)
    if task in ("grounding", "highlight"):
        assert 1 <= len(d["segments"]) <= tiny_model.config.head.max_segments
        assert d["text"].startswith("During ") and " s – " in d["text"]
        assert len(d["saliency"]["times"]) == len(d["saliency"]["scores"]) == 100
        assert d["saliency"]["times"][-1] == pytest.approx(6.0, abs=0.01)
        scores = [s["score"] for s in d["segments"]]
        assert scores == sorted(scores, reverse=True)
    if task == "qa":
        assert len(d["segments"]) == 1                        # evidence is always localised (forced if needed)
        assert d["segments"][0]["label"] == answer_without_locs(d["answer"])


@pytest.mark.gpu
@pytest.mark.parametrize("profile", ["cuda", "cuda-bf16"])
def test_predict_every_task_on_the_gpu(tiny_model, event_video, tmp_path, profile):
    """Every task end to end on CUDA (the 4-bit LLM where bitsandbytes is installed): decoding of the head's
    output once mixed GPU and CPU tensors, which only a GPU run shows."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    tiny_model.save_pretrained(tmp_path / "m")
    model = VideoExpert.from_pretrained(tmp_path / "m", profile=profile).eval()
    assert model.device.type == "cuda"
    for task, query, options in TASKS:
        check_schema(model.predict(event_video, task, query, options, max_new_tokens=16), task, 6.0,
                     model.config.num_frames)


def test_cached_features_give_the_same_answer(tiny_model, event_video):
    features = tiny_model.encode_video(event_video)
    a = tiny_model.predict(event_video, "grounding", "the square")
    b = tiny_model.predict(features, "grounding", "the square")
    assert a.segments == b.segments and a.saliency == b.saliency
    assert "decode" not in b.timings_s                         # nothing decoded the second time


def test_save_and_load_round_trip(tiny_model, event_video, tmp_path):
    torch.manual_seed(1)
    with torch.no_grad():                                      # non-trivial expert and head weights
        for name, p in tiny_model.named_parameters():
            if ".lora_B." in name:
                p.normal_(0, 0.05)
    tiny_model.save_pretrained(tmp_path / "m")
    assert {"config.json", "model.safetensors", "vision.safetensors", "llm", "README.md"} <= {
        p.name for p in (tmp_path / "m").iterdir()}
    loaded = VideoExpert.from_pretrained(tmp_path / "m")
    for task, query, options in TASKS:
        a = tiny_model.predict(event_video, task, query, options, max_new_tokens=16)
        b = loaded.predict(event_video, task, query, options, max_new_tokens=16)
        assert a.answer == b.answer and a.segments == b.segments and a.saliency == b.saliency, task
    sa, sb = tiny_model.state_dict(), loaded.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_incomplete_or_foreign_checkpoints_are_refused(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    state = load_file(str(weights))
    del state["head.indicator.layers.2.weight"]
    save_file(state, str(weights), metadata={"format": "videoexpert"})
    with pytest.raises(CheckpointError, match="head.indicator.layers.2.weight"):
        VideoExpert.from_pretrained(tmp_path / "m")
    save_file(load_file(str(weights)), str(weights))           # no format metadata: not ours
    with pytest.raises(CheckpointError, match="not written by"):
        VideoExpert.from_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match="not a VideoExpert checkpoint"):
        VideoExpert.from_pretrained(tmp_path)


def test_bad_inputs_are_clear_errors(tiny_model, event_video, tmp_path):
    with pytest.raises(InputError, match="empty"):
        tiny_model.predict(event_video, "grounding", "   ")
    with pytest.raises(InputError, match="limit"):
        tiny_model.predict(event_video, "grounding", "x" * 5000)
    with pytest.raises(InputError, match="unknown task"):
        tiny_model.predict(event_video, "summarise", "x")
    with pytest.raises(VideoDecodeError):
        tiny_model.predict(tmp_path / "nope.mp4", "grounding", "x")


def test_forward_computes_all_losses_and_checks_placeholders(tiny_model):
    from videoexpert.data import collate, make_example
    n, d = tiny_model.config.num_frames, tiny_model.config.vision_width
    g = torch.Generator().manual_seed(0)
    ex = make_example(tiny_model, torch.randn(n, d, generator=g), torch.randn(n, 16, d, generator=g),
                      "Describe.", "During [LOC], a. During [LOC], b.", [(0.1, 0.3), (0.5, 0.9)])
    out = tiny_model(**collate([ex, ex], tiny_model.tokenizer.pad_token_id))
    assert set(out.losses) == {"text_loss", "indicator_loss", "span_loss", "giou_loss"}
    assert out.head.foreground.shape == (4, n)                # 2 samples x 2 [LOC]
    expected = 1 * out.losses["text_loss"] + 2 * out.losses["indicator_loss"] + 5 * out.losses["span_loss"] + \
        2 * out.losses["giou_loss"]
    assert math.isfinite(out.loss.item()) and out.loss.item() == pytest.approx(expected.item())
    batch = collate([ex], tiny_model.tokenizer.pad_token_id)
    first_placeholder = int((batch["input_ids"][0] == -200).nonzero()[0])
    batch["input_ids"][0, first_placeholder] = 7               # one visual placeholder goes missing
    with pytest.raises(ConfigError, match="do not match"):
        tiny_model(batch["input_ids"], batch["cls_tokens"], batch["patch_tokens"])
    with pytest.raises(ConfigError, match="windows"):
        make_example(tiny_model, ex.cls_tokens, ex.patch_tokens, "q", "During [LOC].", [])


def test_presets():
    assert {"paper", "tiny"} <= set(list_presets())
    paper = get_preset("paper")
    assert (paper.num_frames, paper.compress.num_tokens, paper.num_visual_tokens) == (100, 256, 356)
    assert (paper.experts.rank, paper.experts.scaling, paper.head.hidden_size) == (32, 2.0, 512)
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("huge")


def test_text_time_format_predicts_from_written_times(tiny_model, event_video):
    """The 'w/o temporal head' ablation reads times from the generated text; an untrained model writes none."""
    from videoexpert import ModelConfig
    config = ModelConfig.from_dict({**tiny_model.config.to_dict(), "time_format": "text"})
    original, tiny_model.config = tiny_model.config, config
    try:
        pred = tiny_model.predict(event_video, "grounding", "the red square", max_new_tokens=8)
    finally:
        tiny_model.config = original
    assert pred.answer.startswith("During") and pred.saliency.scores == ()
    assert all(0 <= s.start <= s.end <= pred.duration + 1e-6 for s in pred.segments)
    with pytest.raises(ConfigError, match="time_format"):
        ModelConfig.from_dict({**original.to_dict(), "time_format": "words"})


def test_trainable_parameters_come_in_a_fixed_order(tiny_model):
    """Optimizer state is restored by position on resume: the order must not depend on hashing."""
    params = tiny_model.trainable_parameters(stage=2)
    assert params[-2] is tiny_model.llm.get_input_embeddings().weight
    assert params[-1] is tiny_model.llm.get_output_embeddings().weight
    names = {id(p): n for n, p in tiny_model.named_parameters()}
    assert [names[id(p)] for p in params] == [names[id(p)] for p in tiny_model.trainable_parameters(stage=2)]
    tiny_model.requires_grad_(False)
