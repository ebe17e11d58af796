"""The training pipeline on the tiny preset: feature extraction, a stage-2 run that lowers the loss, exact resume."""

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.media import event_frames, write_video
from videoexpert.cli import main
from videoexpert.train import TrainConfig, latest_checkpoint, train
from videoexpert import create_model

WINDOWS = {"clip0": (20, 50), "clip1": (60, 90), "clip2": (5, 35)}   # frames of 100 at 10 fps


@pytest.fixture(scope="module")
def run_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    assert main(["create", "--preset", "tiny", "--out", str(root / "base")]) == 0
    colours = [(230, 40, 40), (40, 200, 60), (40, 60, 230)]
    (root / "videos").mkdir()
    for (name, window), colour in zip(WINDOWS.items(), colours):
        write_video(root / "videos" / f"{name}.mp4", event_frames(100, window, colour), fps=10)
    assert main(["extract-features", "--videos", str(root / "videos"), "--out", str(root / "features"),
                 "--model", str(root / "base")]) == 0
    records = [{"id": name, "meta": {"duration": 10.0, "token": {"<s0>": a / 10, "<e0>": b / 10}},
                "conversations": [{"from": "human", "value": "<video>\nWhen is the square visible?"},
                                  {"from": "gpt", "value": "<s0> to <e0>."}]} for name, (a, b) in WINDOWS.items()]
    (root / "data.json").write_text(json.dumps(records))
    return root


def config(root, out, **kw):
    base = dict(stage=2, model=str(root / "base"), output_dir=str(out), batch_size=3, lr=5e-3, log_every=1,
                warmup_ratio=0.0, data=[{"kind": "videoexpert", "annotations": str(root / "data.json"),
                                         "features": str(root / "features")}])
    base.update(kw)
    return TrainConfig(**base)


def test_features_were_extracted(run_data):
    files = sorted(p.name for p in (run_data / "features").iterdir())
    assert files == ["clip0.safetensors", "clip1.safetensors", "clip2.safetensors"]
    assert main(["extract-features", "--videos", str(run_data / "videos"), "--out", str(run_data / "features"),
                 "--model", str(run_data / "base")]) == 0        # second run skips, writes nothing new


def test_stage2_lowers_the_loss(run_data, tmp_path):
    final = train(config(run_data, tmp_path / "run", max_steps=12))
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 13))
    first = sum(r["loss"] for r in log[:3]) / 3
    last = sum(r["loss"] for r in log[-3:]) / 3
    assert last < 0.8 * first, (first, last)
    assert {"text_loss", "indicator_loss", "span_loss", "giou_loss"} <= set(log[0])
    assert (final / "model.safetensors").is_file() and (final / "config.json").is_file()


def test_resume_continues_the_same_run(run_data, tmp_path):
    straight = train(config(run_data, tmp_path / "a", max_steps=6, save_every=3))
    interrupted = config(run_data, tmp_path / "b", max_steps=6, save_every=3)
    train(interrupted)
    assert latest_checkpoint(tmp_path / "b").name == "step_0000003"
    for f in (tmp_path / "b" / "final").iterdir():       # pretend the run died after its step-3 checkpoint
        f.unlink() if f.is_file() else None
    resumed = train(interrupted)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 4, 5, 6]           # the second run started at step 4
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"stage": 1, "data": [{"kind": "charades", "annotations": "x.txt", "videos": "v"}]}))
    cfg = TrainConfig.from_json(path, ["lr=2e-5", "stage=2", "gradient_checkpointing=true"])
    assert (cfg.stage, cfg.lr, cfg.gradient_checkpointing, cfg.data[0].kind) == (2, 2e-5, True, "charades")
    with pytest.raises(ValueError, match="bad override"):
        TrainConfig.from_json(path, ["learning_rate=1"])


def test_training_profile_and_qlora_config():
    assert TrainConfig().profile(cuda=False) == "cpu"
    assert TrainConfig().profile(cuda=True) == "cuda-bf16"       # never 4-bit unless asked
    assert TrainConfig(qlora=True, mixed_precision="bf16").profile(cuda=True) == "cuda"
    with pytest.raises(ValueError, match="mixed_precision=bf16"):
        TrainConfig(qlora=True)


def test_trainable_parameters_train_in_fp32():
    from videoexpert.train import upcast_

    model = create_model("tiny", seed=0)     # a fresh one: the session's tiny_model stays fp32
    params = model.trainable_parameters(2)
    frozen = model.llm.model.layers[0].self_attn.q_proj.base_layer.weight
    for p in params + [frozen]:
        p.data = p.data.to(torch.bfloat16)
    upcast_(params)
    assert {p.dtype for p in params} == {torch.float32} and frozen.dtype == torch.bfloat16
    assert all(p.requires_grad for p in params)


@pytest.mark.gpu
def test_qlora_stage2_runs_over_a_4bit_llm(run_data, tmp_path):
    pytest.importorskip("bitsandbytes")
    if not torch.cuda.is_available():
        pytest.skip("QLoRA needs CUDA")
    final = train(config(run_data, tmp_path / "q", max_steps=8, qlora=True, mixed_precision="bf16",
                         gradient_checkpointing=True))
    log = [json.loads(line) for line in (tmp_path / "q" / "log.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    assert log[-1]["loss"] < log[0]["loss"]
    weights = load_file(str(final / "model.safetensors"))
    assert any(k.endswith("lora_B.temporal.weight") and v.abs().sum() > 0 for k, v in weights.items())
