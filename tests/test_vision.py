"""The vision tower is built with the activation its weights were trained with (QuickGELU for OpenAI's CLIP), and
local weight files, OpenAI's TorchScript archive included, load exactly and safely."""

import random
import zipfile

import pytest
import torch
from open_clip.transformer import QuickGELU

from tests.test_torchscript import TINY_CLIP, archive  # noqa: F401 (a fixture: the traced tiny CLIP archive)
from videoexpert import CheckpointError, get_preset
from videoexpert.config import VisionConfig
from videoexpert.vision import (VisionTower, build_visual, clip_model_config, read_vision_weights,
                                record_activation, tag_uses_quick_gelu)


def _activations(visual: torch.nn.Module) -> set[type]:
    return {type(block.mlp.gelu) for block in visual.transformer.resblocks}


def test_paper_preset_builds_vit_l14_with_quickgelu():
    config = get_preset("paper").vision
    assert clip_model_config(config)["quick_gelu"] is True
    visual = build_visual(config, device="meta")  # ViT-L/14's shapes without allocating 300M parameters
    assert len(visual.transformer.resblocks) == 24 and tuple(visual.proj.shape) == (1024, 768)
    assert _activations(visual) == {QuickGELU}


def test_openai_tag_forces_quickgelu_on_a_plain_arch_name():
    """An older config naming `ViT-L-14` with the `openai` tag still gets the activation the weights need."""
    assert tag_uses_quick_gelu("ViT-L-14", "openai") and tag_uses_quick_gelu("ViT-L-14-quickgelu", "openai")
    assert not tag_uses_quick_gelu("ViT-L-14", "laion2b_s32b_b82k")
    plain = VisionConfig(arch="ViT-L-14", pretrained=None)
    assert _activations(build_visual(plain, device="meta")) == {torch.nn.GELU}
    record_activation(plain, True)
    assert plain.arch == "ViT-L-14-quickgelu"


def test_torchscript_file_loads_exactly_with_quickgelu(archive, monkeypatch):
    path, model, expected = archive
    monkeypatch.setattr(torch.jit, "load", lambda *a, **kw: pytest.fail("torch.jit.load must not be called"))
    config = VisionConfig(arch="tiny-vit", pretrained=str(path), image_size=64, arch_config=TINY_CLIP)  # GELU arch
    tower = VisionTower.from_config(config)
    assert _activations(tower.visual) == {QuickGELU}  # as the archive's modules say, not as the arch_config says
    state = tower.visual.state_dict()
    assert set(state) == {k.removeprefix("visual.") for k in expected if k.startswith("visual.")}
    for key, tensor in state.items():
        assert torch.equal(tensor, expected[f"visual.{key}"].float()), key
    frames = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    tokens = tower(frames)
    assert tokens.shape == (3, 1 + 16, 32)
    with torch.no_grad():
        reference = model.encode_image(frames)  # OpenAI's pooled output: ln_post(CLS) @ proj, with QuickGELU
    torch.testing.assert_close(tokens[:, 0], reference, rtol=1e-5, atol=1e-5)


def test_torchscript_weights_do_not_fit_another_architecture(archive):
    path, _, _ = archive
    other = {**TINY_CLIP, "vision_cfg": {**TINY_CLIP["vision_cfg"], "width": 96}}
    config = VisionConfig(arch="tiny-vit", pretrained=str(path), image_size=64, arch_config=other)
    with pytest.raises(CheckpointError, match=r"ViT-L-14\.pt does not fit .*mis-shaped") as err:
        VisionTower.from_config(config)
    assert "\n" not in str(err.value)


def test_bad_vision_files_give_one_line(tmp_path):
    for seed in range(40):   # random bytes stop the unpickler in many ways (bad magic, IndexError, KeyError, EOF, ...)
        junk = tmp_path / f"junk{seed}.pt"
        junk.write_bytes(random.Random(seed).randbytes(512))
        with pytest.raises(CheckpointError, match="neither a TorchScript archive nor a PyTorch state dict") as err:
            read_vision_weights(junk)
        assert "\n" not in str(err.value) and str(tmp_path) not in str(err.value)
    (tmp_path / "junk.pt").write_bytes(random.Random(0).randbytes(512))
    with zipfile.ZipFile(tmp_path / "nodata.pt", "w") as zf:
        zf.writestr("weights/readme.txt", "no data.pkl here")
    torch.save([torch.ones(2), 3], tmp_path / "list.pt")
    for name, pattern in (("junk.pt", "neither a TorchScript archive nor a PyTorch state dict"),
                          ("nodata.pt", "no data.pkl"), ("list.pt", "does not hold a state dict")):
        with pytest.raises(CheckpointError, match=pattern) as err:
            read_vision_weights(tmp_path / name)
        message = str(err.value)
        assert name in message and "\n" not in message and str(tmp_path) not in message
