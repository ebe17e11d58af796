"""The restricted TorchScript reader: exact tensors from an archive laid out like OpenAI's CLIP `ViT-L-14.pt`, and
pickled code refused before it can run."""

import copy
import io
import os
import pickle
import random
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from videoexpert import CheckpointError
from videoexpert.torchscript import is_torchscript_archive, read_torchscript, read_torchscript_state_dict

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
             "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}}


def _fp16_in_release(name: str, tensor: torch.Tensor) -> bool:
    """OpenAI ships conv/linear/attention matrices and projections in fp16, norms, biases and embeddings in fp32."""
    return tensor.ndim >= 2 and not name.endswith("embedding")


def write_clip_archive(path: Path, arch_config: dict = TINY_CLIP, seed: int = 0):
    """A TorchScript CLIP archive of OpenAI's structure (open_clip keeps OpenAI's module names; QuickGELU; traced
    encode_image/encode_text like `clip.load`'s files; mixed fp16/fp32 storages). Returns the eager model, whose
    weights are rounded to what the archive holds, and the archive's state dict as torch.jit sees it."""
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.CLIP(**{**arch_config, "quick_gelu": True}).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if _fp16_in_release(name, p):
                p.copy_(p.half().float())
    size = arch_config["vision_cfg"]["image_size"]
    image = torch.zeros(1, 3, size, size)
    text = torch.zeros(1, arch_config["text_cfg"]["context_length"], dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the traced module shares its parameters with the model it traced: trace a copy, keep `model` fp32
        traced = torch.jit.trace_module(copy.deepcopy(model), {"encode_image": (image,), "encode_text": (text,)},
                                        check_trace=False)
        for name, p in traced.named_parameters():
            if _fp16_in_release(name, p):
                p.data = p.data.half()
        torch.jit.save(traced, str(path))
    return model, {k: v.detach().clone() for k, v in traced.state_dict().items()}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "ViT-L-14.pt"
    model, expected = write_clip_archive(path)
    return path, model, expected


def test_reader_returns_the_archive_tensors_exactly(archive, monkeypatch):
    path, _, expected = archive

    def no_jit(*a, **kw):
        raise AssertionError("torch.jit.load must not be called")

    monkeypatch.setattr(torch.jit, "load", no_jit)
    assert is_torchscript_archive(path)
    state = read_torchscript_state_dict(path)
    assert set(state) == set(expected)
    assert "visual.conv1.weight" in state and "visual.transformer.resblocks.1.attn.in_proj_weight" in state
    for key, tensor in expected.items():
        assert state[key].dtype == tensor.dtype and torch.equal(state[key], tensor), key
    assert {t.dtype for t in state.values()} == {torch.float16, torch.float32}


def test_reader_reads_only_the_prefix_and_names_module_classes(archive):
    path, _, expected = archive
    contents = read_torchscript(path, prefix="visual.")
    assert set(contents.tensors) == {k for k in expected if k.startswith("visual.")}
    assert contents.modules["visual.transformer.resblocks.0.mlp.gelu"].endswith(".QuickGELU")
    assert contents.modules[""].endswith(".CLIP")


def _replace_data_pkl(src: Path, dst: Path, payload: bytes) -> None:
    """Copy a TorchScript archive, swapping its data.pkl for `payload` (every other record untouched)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = payload if info.filename.endswith("/data.pkl") else zin.read(info)
            zout.writestr(info, data)


class _Exploit:
    """Pickles as a call of `fn(*args)`: what a malicious checkpoint does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("how", ["os.system", "builtins.exec"])
def test_planted_code_is_refused_and_never_runs(archive, tmp_path, how):
    path, _, _ = archive
    marker = tmp_path / "pwned"
    if how == "os.system":
        exploit = _Exploit(os.system, f"touch {marker}")
    else:
        exploit = _Exploit(exec, f"open({str(marker)!r}, 'w').close()")
    payload = pickle.dumps({"visual": exploit, "training": False}, protocol=2)
    pickle.loads(payload)                      # the payload works: an unrestricted unpickler runs it
    assert marker.exists()
    marker.unlink()
    evil = tmp_path / "ViT-L-14.pt"
    _replace_data_pkl(path, evil, payload)
    with pytest.raises(CheckpointError) as err:
        read_torchscript_state_dict(evil)
    message = str(err.value)
    assert "refused" in message and ("system" in message or "exec" in message)
    assert "\n" not in message and str(tmp_path) not in message and "ViT-L-14.pt" in message
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x02\x00\x00\x00fnK\x01sb.",  # BUILD {'fn': 1} on a helper
    b"\x80\x02ctorch\nFloatStorage\nX\x04\x00\x00\x00nameK\x01\x86b.",      # BUILD ('name', 1) on a marker
], ids=["helper", "storage-type"])
def test_build_cannot_modify_allowed_objects(archive, tmp_path, payload):
    """BUILD (set state) on an allow-listed helper or marker would let a pickle rewire it, e.g. change a checked
    tensor's geometry after the check: refused."""
    path, _, _ = archive
    evil = tmp_path / "ViT-L-14.pt"
    _replace_data_pkl(path, evil, payload)
    with pytest.raises(CheckpointError, match="cannot read its data.pkl.*refused to set the state"):
        read_torchscript_state_dict(evil)
    assert read_torchscript_state_dict(path)  # the helpers still work


def test_tensor_outside_its_storage_is_refused(archive, tmp_path):
    path, _, _ = archive
    with zipfile.ZipFile(path) as zf:
        root = next(n for n in zf.namelist() if n.endswith("/data.pkl")).split("/")[0]
        numel = zf.getinfo(f"{root}/data/0").file_size // 4
    # ('storage', FloatStorage, '0', 'cpu', numel) viewed as numel + 1 elements
    payload = (b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
               b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ" + numel.to_bytes(4, "little")
               + b"tQK\x00J" + (numel + 1).to_bytes(4, "little") + b"\x85K\x01\x85\x89}tRs.")
    evil = tmp_path / "ViT-L-14.pt"
    _replace_data_pkl(path, evil, payload)
    with pytest.raises(CheckpointError, match="reaches past its storage"):
        read_torchscript_state_dict(evil)


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(random.Random(0).randbytes(256))
    with pytest.raises(CheckpointError, match="not a zip"):
        read_torchscript_state_dict(junk)
    empty = tmp_path / "empty.pt"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="no <name>/data.pkl"):
        read_torchscript_state_dict(empty)
    assert not is_torchscript_archive(junk) and not is_torchscript_archive(empty)


def test_a_plain_torch_save_file_is_not_torchscript(tmp_path):
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    (tmp_path / "plain.pt").write_bytes(buffer.getvalue())
    assert not is_torchscript_archive(tmp_path / "plain.pt")
