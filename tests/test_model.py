"""The tiny model end to end on a real mp4: all four tasks, the result schema, save/load, bad checkpoints."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from videoexpert import (CheckpointError, ConfigError, InputError, Prediction, Predictor, VideoDecodeError,
                         create_model, get_preset, list_presets, load_model, save_model)
from videoexpert.prompts import chat_prompt

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
def test_predict_every_task_on_a_real_video(tiny_model, event_video, task, query, options, tiny_predictor):
    pred = tiny_predictor.predict(event_video, task, query, options, max_new_tokens=24)
    d = check_schema(pred, task, 6.0, tiny_model.config.num_frames)
    if task in ("grounding", "highlight"):
        assert 1 <= len(d["segments"]) <= tiny_model.config.head.max_segments
        assert d["text"].startswith("From ") and " s – " in d["text"]
        assert len(d["saliency"]["times"]) == len(d["saliency"]["scores"]) == 100
        assert d["saliency"]["times"][-1] == pytest.approx(6.0, abs=0.01)
        scores = [s["score"] for s in d["segments"]]
        assert scores == sorted(scores, reverse=True)
    if task == "qa":
        assert len(d["segments"]) == 1                        # evidence is always localised (forced if needed)
        assert d["segments"][0]["label"] == tiny_model.templates.qa_reply(d["answer"], options)[0]


@pytest.mark.gpu
@pytest.mark.parametrize("profile", ["cuda", "cuda-bf16"])
def test_predict_every_task_on_the_gpu(tiny_model, event_video, tmp_path, profile):
    """Every task end to end on CUDA (the 4-bit LLM where bitsandbytes is installed): decoding of the head's
    output once mixed GPU and CPU tensors, which only a GPU run shows."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    save_model(tiny_model, tmp_path / "m")
    model = load_model(tmp_path / "m", profile=profile).eval()
    assert model.device.type == "cuda"
    for task, query, options in TASKS:
        check_schema(Predictor(model).predict(event_video, task, query, options, max_new_tokens=16), task, 6.0,
                     model.config.num_frames)


def test_cached_features_give_the_same_answer(tiny_model, event_video, tiny_predictor):
    features = tiny_predictor.encode(event_video)
    a = tiny_predictor.predict(event_video, "grounding", "the square")
    b = tiny_predictor.predict(features, "grounding", "the square")
    assert a.segments == b.segments and a.saliency == b.saliency
    assert "decode" not in b.timings_s                         # nothing decoded the second time


def test_generation_uses_the_decoders_own_cache_keyword(tiny_model, event_video, recwarn, tiny_predictor):
    """transformers 5.2x renamed the decoder's `past_key_values` to `cache` (the old name warns and goes in 5.40): the
    model passes whichever the installed decoder takes, and a cached greedy answer equals an uncached recomputation."""
    import inspect

    params = inspect.signature(tiny_model.llm.get_decoder().forward).parameters
    assert tiny_model._cache_kwarg in params
    features = tiny_predictor.encode(event_video)
    visual = tiny_predictor.visual_tokens(features)
    prompt = chat_prompt(tiny_model.templates.question("captioning"))
    out = tiny_model.generate(visual, prompt, max_new_tokens=6, min_new_tokens=6)
    assert not [w for w in recwarn if "past_key_values" in str(w.message)]
    # the same tokens from full forward passes without any cache
    ids, _ = tiny_model.tokenize(prompt)
    tokens = []
    for _ in range(6):
        input_ids = torch.tensor([ids + tokens])
        with torch.no_grad():
            logits = tiny_model(input_ids, features.cls_tokens[None], features.patch_tokens[None]).logits
        logits = logits[0, -1].float()
        stop = [t for t in (tiny_model.tokenizer.eos_token_id, tiny_model.tokenizer.pad_token_id) if t is not None]
        logits[stop] = float("-inf")
        tokens.append(int(logits.argmax()))
    assert out.token_ids == tokens


def test_save_and_load_round_trip(tiny_model, event_video, tmp_path, tiny_predictor):
    torch.manual_seed(1)
    with torch.no_grad():                                      # non-trivial expert and head weights
        for name, p in tiny_model.named_parameters():
            if ".lora_B." in name:
                p.normal_(0, 0.05)
    save_model(tiny_model, tmp_path / "m")
    assert {"config.json", "model.safetensors", "vision.safetensors", "llm", "README.md"} <= {
        p.name for p in (tmp_path / "m").iterdir()}
    loaded = load_model(tmp_path / "m")
    for task, query, options in TASKS:
        a = tiny_predictor.predict(event_video, task, query, options, max_new_tokens=16)
        b = Predictor(loaded).predict(event_video, task, query, options, max_new_tokens=16)
        assert a.answer == b.answer and a.segments == b.segments and a.saliency == b.saliency, task
    sa, sb = tiny_model.state_dict(), loaded.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_incomplete_or_foreign_checkpoints_are_refused(tiny_model, tmp_path):
    save_model(tiny_model, tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    state = load_file(str(weights))
    del state["head.indicator.layers.2.weight"]
    save_file(state, str(weights), metadata={"format": "videoexpert"})
    with pytest.raises(CheckpointError, match="head.indicator.layers.2.weight"):
        load_model(tmp_path / "m")
    save_file(load_file(str(weights)), str(weights))           # no format metadata: not ours
    with pytest.raises(CheckpointError, match="not written by"):
        load_model(tmp_path / "m")
    with pytest.raises(CheckpointError, match="not a VideoExpert checkpoint"):
        load_model(tmp_path)


def test_bad_inputs_are_clear_errors(tiny_model, event_video, tmp_path, tiny_predictor):
    with pytest.raises(InputError, match="empty"):
        tiny_predictor.predict(event_video, "grounding", "   ")
    with pytest.raises(InputError, match="limit"):
        tiny_predictor.predict(event_video, "grounding", "x" * 5000)
    with pytest.raises(InputError, match="unknown task"):
        tiny_predictor.predict(event_video, "summarise", "x")
    with pytest.raises(VideoDecodeError):
        tiny_predictor.predict(tmp_path / "nope.mp4", "grounding", "x")


def test_forward_computes_all_losses_and_checks_placeholders(tiny_model):
    from videoexpert.data.collate import collate, make_example
    n, d = tiny_model.config.num_frames, tiny_model.config.vision_width
    g = torch.Generator().manual_seed(0)
    ex = make_example(tiny_model, torch.randn(n, d, generator=g), torch.randn(n, 16, d, generator=g),
                      "Describe.", "From [LOC], a. From [LOC], b.", [(0.1, 0.3), (0.5, 0.9)])
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
        make_example(tiny_model, ex.cls_tokens, ex.patch_tokens, "q", "From [LOC].", [])


def test_presets():
    assert {"paper", "tiny"} <= set(list_presets())
    paper = get_preset("paper")
    assert (paper.num_frames, paper.compress.num_tokens, paper.num_visual_tokens) == (100, 256, 356)
    assert (paper.experts.rank, paper.experts.scaling, paper.head.hidden_size) == (32, 2.0, 512)
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("huge")


def test_text_time_format_predicts_from_written_times(tiny_model, event_video, tiny_predictor):
    """The 'w/o temporal head' ablation reads times from the generated text; an untrained model writes none."""
    from videoexpert import ModelConfig
    config = ModelConfig.from_dict({**tiny_model.config.to_dict(), "time_format": "text"})
    original, tiny_model.config = tiny_model.config, config
    try:
        pred = tiny_predictor.predict(event_video, "grounding", "the red square", max_new_tokens=8)
    finally:
        tiny_model.config = original
    assert pred.answer.startswith("From") and pred.saliency.scores == ()
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


def _dropout_model(tmp_path, seed: int = 0):
    """A tiny model whose experts carry dropout 0.05 (as the paper's) and non-zero weights, saved to disk."""
    from videoexpert import ModelConfig
    config = get_preset("tiny").to_dict()
    config["experts"]["dropout"] = 0.05
    model = create_model(ModelConfig.from_dict(config), seed=seed)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_B." in name:
                p.normal_(0, 0.5)
    save_model(model, tmp_path / "m")
    return tmp_path / "m"


def test_every_load_path_gives_an_eval_mode_model_with_deterministic_answers(event_video, tmp_path):
    """Issue #16: `from_pretrained` and `load_model` once returned models in training mode, so the experts' LoRA
    dropout made four identical queries give four different segments."""
    from videoexpert import load_model
    path = _dropout_model(tmp_path)
    for model in (load_model(path), load_model(str(path)), create_model("tiny")):
        training = [name for name, m in model.named_modules() if m.training]
        assert not training, training[:5]
    model = load_model(str(path))
    features = Predictor(model).encode(event_video)
    answers = [Predictor(model).predict(features, "grounding", "the red square").to_dict() for _ in range(4)]
    for a in answers:
        a.pop("timings_s")
    assert all(a == answers[0] for a in answers)
    model.train()                                   # the dropout is real: training mode does change the answer
    torch.manual_seed(0)
    trained = [Predictor(model).predict(features, "grounding", "the red square").segments for _ in range(2)]
    assert trained[0] != trained[1]


def test_stage2_trains_the_whole_embeddings_and_saves_only_the_rows_that_moved(tiny_model, tmp_path):
    """Official stage 2 trains all of `embed_tokens` and `lm_head`; a checkpoint stores the rows that differ from the
    base LLM ([LOC] and the rows training moved), not two vocabulary-sized matrices."""
    from videoexpert import ModelConfig
    model = create_model("tiny", seed=0)
    params = model.trainable_parameters(stage=2)
    inputs, outputs = model.llm.get_input_embeddings().weight, model.llm.get_output_embeddings().weight
    assert any(p is inputs for p in params) and inputs.requires_grad and not hasattr(inputs, "_videoexpert_row_hook")
    with torch.no_grad():                          # what an optimizer step would do to rows 5 and 9 of the input
        inputs[[5, 9]] += 0.5
        outputs[11] -= 0.5
    save_model(model, tmp_path / "m")
    state = load_file(str(tmp_path / "m" / "model.safetensors"))
    loc = model.loc_token_id
    assert state["embeddings.input.rows"].tolist() == sorted({5, 9, loc})
    assert state["embeddings.output.rows"].tolist() == sorted({11, loc})
    assert state["embeddings.input.values"].shape == (3, inputs.shape[1])
    loaded = load_model(tmp_path / "m")
    assert torch.equal(loaded.llm.get_input_embeddings().weight, inputs)
    assert torch.equal(loaded.llm.get_output_embeddings().weight, outputs)
    # the "rows" option: gradients reach the [LOC] row only
    config = ModelConfig.from_dict({**get_preset("tiny").to_dict(), "train_embeddings": "rows"})
    rows_model = create_model(config, seed=0)
    rows_model.trainable_parameters(stage=2)
    weight = rows_model.llm.get_input_embeddings().weight
    (weight.sum() * 2).backward()
    assert weight.grad[loc].abs().sum() > 0 and weight.grad.abs().sum() == weight.grad[loc].abs().sum()


def test_official_templates_tokenise_loc_as_the_official_tokenizer_does(tiny_model):
    """[LOC] is a plain added token; the text is split there and stripped on both sides (transformers 4.31's slow
    tokenizer), so the state that predicts [LOC] is the one at "From", and labels cover exactly the answer."""
    prompt = chat_prompt(tiny_model.templates.question("grounding", "a dog"))
    ids, labels = tiny_model.tokenize(prompt, "From [LOC].")
    loc = ids.index(tiny_model.loc_token_id)
    assert tiny_model.tokenizer.decode([ids[loc - 1]]).strip() == "From"
    assert ids[loc + 1:] == tiny_model.encode_text(".") + [tiny_model.tokenizer.eos_token_id]
    answer = [i for i, label in zip(ids, labels) if label != -100]
    assert tiny_model.tokenizer.decode(answer).replace(" ", "") == "From[LOC].</s>"
    assert ids[:len(tiny_model.tokenize(prompt)[0])] == tiny_model.tokenize(prompt)[0]
    text = "From [LOC], a red circle appears. From [LOC]."
    assert tiny_model.decode_text(tiny_model.encode_text(text)) == text
    assert tiny_model.encode_text("From [LOC], a. From  [LOC] , b.") == \
        tiny_model.encode_text("From") + [tiny_model.loc_token_id] + tiny_model.encode_text(", a. From") + \
        [tiny_model.loc_token_id] + tiny_model.encode_text(", b.")


def test_a_tokenizer_that_splits_the_prompt_prefix_otherwise_is_refused(tiny_model):
    from videoexpert import ModelConfig
    prefix = tiny_model.prompt_prefix_length()
    assert tiny_model.tokenize("x <video>\nq")[0].index(-200) < prefix
    config = get_preset("tiny").to_dict()
    config["llm"]["prompt_prefix_tokens"] = prefix
    create_model(ModelConfig.from_dict(config))           # the right length loads
    config["llm"]["prompt_prefix_tokens"] = 35
    with pytest.raises(ConfigError, match=rf"into {prefix} tokens, the weights expect 35 .*positions 35\.\.134"):
        create_model(ModelConfig.from_dict(config))
