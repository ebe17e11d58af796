"""Import of the authors' release (fabricated here in its exact layout), safe loading, runtime profiles."""

import json
import logging
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from open_clip.transformer import QuickGELU

from tests.test_torchscript import write_clip_archive
from videoexpert import CheckpointError, ConfigError, Predictor, create_model, get_preset, load_model
from videoexpert.cli import main
from videoexpert.convert import convert_official, load_official
from videoexpert.runtime import select_profile
from videoexpert.torchscript import read_torchscript_state_dict

REPO = Path(__file__).resolve().parents[1]

PROJ = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A tiny checkpoint in the official layout: file names, key names and prefixes as the authors publish them,
    with CLIP as OpenAI's TorchScript archive in checkpoints/clip/ViT-L-14.pt (a tiny ViT of the same structure)."""
    root = tmp_path_factory.mktemp("release")
    assert main(["create", "--preset", "tiny", "--out", str(root / "ours")]) == 0
    llm_dir = root / "ours" / "llm"
    base = load_model(root / "ours")
    g = torch.Generator().manual_seed(0)
    stage2 = root / "stage2"
    stage2.mkdir()
    experts, expected = {}, {}
    for name, module in base.llm.named_modules():
        short = name.split(".")[-1]
        if short in PROJ and hasattr(module, "lora_A"):
            layer = name.split(".")[2]
            for ours, theirs in (("temporal", "V"), ("spatial", "L")):
                for ab in ("A", "B"):
                    shape = getattr(module, f"lora_{ab}")[ours].weight.shape
                    t = torch.randn(shape, generator=g)
                    experts[f"model.layers.{layer}.{PROJ[short]}.{short}.{theirs}_Expertlora_{ab}.weight"] = t
                    expected[f"{name}.lora_{ab}.{ours}.weight"] = t
    torch.save(experts, stage2 / "pytorch_model.bin")
    non_lora = {}
    for ours, theirs in (("loc_mlp.0", "text_hidden_fcs_det.0.0"), ("loc_mlp.2", "text_hidden_fcs_det.0.2"),
                         *[(f"indicator.layers.{i}", f"class_embed_head.layers.{i}") for i in range(3)],
                         *[(f"boundary.layers.{i}", f"span_embed_head.layers.{i}") for i in range(3)]):
        for p in ("weight", "bias"):
            t = torch.randn(base.head.get_submodule(ours).get_parameter(p).shape, generator=g)
            non_lora[f"base_model.model.model.{theirs}.{p}"] = t
            expected[f"head.{ours}.{p}"] = t
    vocab, d = base.llm.get_input_embeddings().weight.shape
    non_lora["base_model.model.model.embed_tokens.weight"] = expected["embed"] = torch.randn(vocab, d, generator=g)
    non_lora["base_model.model.lm_head.weight"] = expected["lm_head"] = torch.randn(vocab, d, generator=g)
    torch.save(non_lora, stage2 / "non_lora_trainables.bin")
    projector = {"model.mm_projector.weight": torch.randn(base.projector.weight.shape, generator=g),
                 "model.mm_projector.bias": torch.randn(base.projector.bias.shape, generator=g)}
    expected["projector.weight"], expected["projector.bias"] = projector.values()
    torch.save(projector, root / "mm_projector.bin")
    (root / "clip").mkdir()
    write_clip_archive(root / "clip" / "ViT-L-14.pt", get_preset("tiny").vision.arch_config)
    return root, llm_dir, expected


def test_conversion_maps_every_tensor(release, capsys, tmp_path):
    root, llm_dir, expected = release
    report = convert_official(root / "stage2", root / "mm_projector.bin", str(llm_dir), tmp_path / "conv",
                              vision=None, template=get_preset("tiny"))
    print(report.table())
    assert not report.missing and not report.unmatched and not report.wrong_shape
    model = load_model(tmp_path / "conv")     # the LLM comes from a local HF folder, like Vicuna
    params = dict(model.named_parameters())
    for key, tensor in expected.items():
        if key == "embed":
            got = model.llm.get_input_embeddings().weight
        elif key == "lm_head":
            got = model.llm.get_output_embeddings().weight
        else:
            got = params[key if key.startswith(("head.", "projector.")) else f"llm.{key}"]
        assert torch.equal(got.detach(), tensor), key
    assert model.loc_token_id == expected["embed"].shape[0] - 1
    assert "cc-by-nc-nd-4.0" in (tmp_path / "conv" / "README.md").read_text()
    assert Predictor(model).predict(_video(tmp_path), "grounding", "a square").segments


def _video(tmp_path):
    from tests.media import event_frames, write_video
    return write_video(tmp_path / "v.mp4", event_frames(30, (10, 20)))


def test_conversion_cli_prints_the_report(release, tmp_path, capsys):
    root, llm_dir, _ = release
    assert main(["convert-official", "--stage2", str(root / "stage2"), "--projector", str(root / "mm_projector.bin"),
                 "--llm", str(llm_dir), "--preset", "tiny", "--clip", "", "--out", str(tmp_path / "c")]) in (0, 2)
    printed = capsys.readouterr().out
    assert "| experts |" in printed and "| head |" in printed and "| projector |" in printed


def _stage2_missing_an_expert(root, out):
    """The release's stage-2 folder with one expert tensor taken out of pytorch_model.bin."""
    out.mkdir()
    experts = torch.load(root / "stage2" / "pytorch_model.bin", weights_only=True)
    del experts["model.layers.1.mlp.down_proj.V_Expertlora_B.weight"]
    torch.save(experts, out / "pytorch_model.bin")
    (out / "non_lora_trainables.bin").write_bytes((root / "stage2" / "non_lora_trainables.bin").read_bytes())
    return out


def test_missing_tensor_refuses_to_write(release, tmp_path):
    root, llm_dir, _ = release
    broken = _stage2_missing_an_expert(root, tmp_path / "stage2")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin: model\.layers\.1\.mlp\.down_proj\.V_Expertlora_B"):
        convert_official(broken, root / "mm_projector.bin", str(llm_dir), tmp_path / "out", vision=None,
                         template=get_preset("tiny"))
    assert not (tmp_path / "out").exists()


def test_conversion_reads_the_torchscript_clip(release, tmp_path, monkeypatch):
    """The release's ViT-L-14.pt is a TorchScript archive: read by the restricted reader (never torch.jit.load),
    checked at conversion, and loaded as the model's vision tower with exactly its tensors and QuickGELU."""
    root, llm_dir, _ = release
    clip = root / "clip" / "ViT-L-14.pt"
    monkeypatch.setattr(torch.jit, "load", lambda *a, **kw: pytest.fail("torch.jit.load must not be called"))
    report = convert_official(root / "stage2", root / "mm_projector.bin", str(llm_dir), tmp_path / "conv",
                              vision=str(clip), template=get_preset("tiny"))
    assert not report.missing and not report.wrong_shape
    vision = json.loads((tmp_path / "conv" / "config.json").read_text())["vision"]
    assert vision["pretrained"] == str(clip.resolve()) and vision["arch_config"]["quick_gelu"] is True
    model = load_model(tmp_path / "conv")
    archive = read_torchscript_state_dict(clip, prefix="visual.")
    tower = model.vision.visual.state_dict()
    assert len(tower) == len(archive)
    for key, tensor in archive.items():
        assert torch.equal(tower[key.removeprefix("visual.")].float(), tensor.float()), key
    assert {type(b.mlp.gelu) for b in model.vision.visual.transformer.resblocks} == {QuickGELU}
    assert Predictor(model).predict(_video(tmp_path), "grounding", "a square").segments


def test_conversion_cli_finds_the_release_layout(release, tmp_path, capsys):
    """--checkpoints finds clip/ViT-L-14.pt as the authors lay it out."""
    root, llm_dir, _ = release
    assert main(["convert-official", "--stage2", str(root / "stage2"), "--projector", str(root / "mm_projector.bin"),
                 "--checkpoints", str(root), "--llm", str(llm_dir), "--preset", "tiny",
                 "--out", str(tmp_path / "c")]) == 0
    assert "| experts |" in capsys.readouterr().out
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["vision"]["pretrained"] == str((root / "clip" / "ViT-L-14.pt").resolve())


def _bad_inputs(root, tmp):
    """(name, --clip file, --stage2 folder, words the error must contain) for each kind of bad input."""
    junk = tmp / "junk" / "ViT-L-14.pt"
    junk.parent.mkdir()
    junk.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.uint8).numpy().tobytes())
    nodata = tmp / "nodata" / "ViT-L-14.pt"
    nodata.parent.mkdir()
    with zipfile.ZipFile(nodata, "w") as zf:
        zf.writestr("ViT-L-14/version", "3")
    listed = tmp / "list" / "ViT-L-14.pt"
    listed.parent.mkdir()
    torch.save([torch.ones(3), 2], listed)
    marker = tmp / "pwned"
    evil = tmp / "evil" / "ViT-L-14.pt"
    evil.parent.mkdir()
    payload = pickle.dumps({"visual": _Exploit(str(marker))}, protocol=2)
    with zipfile.ZipFile(root / "clip" / "ViT-L-14.pt") as zin, zipfile.ZipFile(evil, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, payload if info.filename.endswith("/data.pkl") else zin.read(info))
    broken = _stage2_missing_an_expert(root, tmp / "stage2")
    good, stage2 = root / "clip" / "ViT-L-14.pt", root / "stage2"
    return marker, {
        "random bytes": (junk, stage2, "neither a TorchScript archive nor a PyTorch state dict"),
        "zip without data.pkl": (nodata, stage2, "no data.pkl"),
        "pickle of a list": (listed, stage2, "does not hold a state dict of tensors (found list)"),
        "planted code": (evil, stage2, "refused to load, its pickle asks for posix.mkdir"),
        "missing tensor": (good, broken,
                           "1 missing: pytorch_model.bin: model.layers.1.mlp.down_proj.V_Expertlora_B.weight"),
    }


def _convert_argv(root, llm_dir, clip, stage2, out):
    return ["convert-official", "--stage2", str(stage2), "--projector", str(root / "mm_projector.bin"),
            "--llm", str(llm_dir), "--preset", "tiny", "--clip", str(clip), "--out", str(out)]


def _assert_one_clear_line(stderr, words, *folders):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert "ERROR" in lines[0] and words in lines[0], lines[0]
    assert "will likely succeed" not in lines[0]  # torch's advice to retry with weights_only=False is not passed on
    assert not any(str(folder) in lines[0] for folder in folders), lines[0]


@pytest.mark.parametrize("case", ["random bytes", "zip without data.pkl", "pickle of a list", "planted code",
                                  "missing tensor"])
def test_bad_release_gives_one_line_through_the_cli(release, tmp_path, case, monkeypatch, capsys):
    """cli.main as the console runs it (logging set up on an empty root logger, so it writes to stderr): exit
    status 2, one line on stderr, no traceback, files named without their folders, nothing written, no planted
    code run."""
    root, llm_dir, _ = release
    marker, cases = _bad_inputs(root, tmp_path)
    clip, stage2, words = cases[case]
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's capture handler would swallow the log
    assert main(_convert_argv(root, llm_dir, clip, stage2, tmp_path / "out")) == 2
    _assert_one_clear_line(capsys.readouterr().err, words, tmp_path, root)
    assert not (tmp_path / "out").exists() and not marker.exists()


def test_planted_code_through_python_m_videoexpert(release, tmp_path):
    """The same through a fresh `python -m videoexpert` process: the real entry point, its real stderr."""
    root, llm_dir, _ = release
    marker, cases = _bad_inputs(root, tmp_path)
    clip, stage2, words = cases["planted code"]
    run = subprocess.run([sys.executable, "-m", "videoexpert", *_convert_argv(root, llm_dir, clip, stage2,
                                                                            tmp_path / "out")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    _assert_one_clear_line(run.stderr, words, tmp_path, root)
    assert not (tmp_path / "out").exists() and not marker.exists()


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "non_lora_trainables.bin"
    torch.save({"model.mm_projector.weight": _Exploit(str(marker))}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        load_official(evil)
    assert not marker.exists()
    with open(tmp_path / "plain.bin", "wb") as f:
        pickle.dump(_Exploit(str(marker)), f)
    with pytest.raises(CheckpointError):
        load_official(tmp_path / "plain.bin")
    assert not marker.exists()


def test_profile_selection():
    assert select_profile("auto", cuda=False).name == "cpu"
    assert select_profile("auto", cuda=True, bnb=True).name == "cuda"
    assert select_profile("auto", cuda=True, bnb=False).name == "cuda-bf16"
    cuda = select_profile("cuda", cuda=True, bnb=True)
    assert cuda.load_in_4bit and cuda.vision_dtype == torch.float16 and cuda.adapter_dtype == torch.bfloat16
    q = cuda.quantization_config()
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.bfloat16
    assert select_profile("cpu").quantization_config() is None
    with pytest.raises(ConfigError, match="CUDA"):
        select_profile("cuda-bf16", cuda=False)
    with pytest.raises(ConfigError, match="bitsandbytes"):
        select_profile("cuda", cuda=True, bnb=False)
    with pytest.raises(ConfigError, match="unknown profile"):
        select_profile("tpu")


def test_missing_hub_weights_give_one_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = get_preset("tiny")
    cfg.llm.name_or_path = "videoexpert-test/no-such-model"
    with pytest.raises(CheckpointError, match="no-such-model.*download"):
        create_model(cfg)


def test_download_fetches_the_llm_and_clip_of_a_preset(monkeypatch, tmp_path, capsys):
    """The transport is replaced by a local fake Hub: the command must ask for the right repositories and files."""
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, allow_patterns=None, cache_dir=None, **kw):
        calls.append((repo_id, tuple(allow_patterns or ())))
        folder = tmp_path / "hub" / repo_id.replace("/", "--")
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert main(["download", "paper"]) == 0
    repos = [c[0] for c in calls]
    assert repos == ["lmsys/vicuna-7b-v1.5", "timm/vit_large_patch14_clip_224.openai"]
    assert "*.safetensors" in calls[0][1] and "tokenizer*" in calls[0][1]
    assert "lmsys--vicuna-7b-v1.5" in capsys.readouterr().out

    def offline(*a, **kw):
        raise OSError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    assert main(["download", "someone/some-model"]) == 2
