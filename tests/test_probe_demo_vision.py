"""bench/probe_demo_vision.py on the shipped demo model: the frames it keeps and the probes it trains."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from demo.world import COLOURS, HELD_OUT_PAIRS, SHAPES
from videoexpert import load_model

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "videoexpert-demo"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("probe_demo_vision", ROOT / "bench" / "probe_demo_vision.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_linear_probe_separates_separable_classes_and_centring_removes_the_colour_mean(probe):
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=generator) * 5
    labels = torch.arange(3).repeat(20)
    features = centres[labels] + 0.1 * torch.randn(60, 8, generator=generator)
    train_acc, predicted = probe.linear_probe(features, labels, centres, classes=3)
    assert train_acc == 1.0 and predicted.tolist() == [0, 1, 2]
    means = {c: features[labels == c].mean(0) for c in range(3)}
    centred = probe.colour_centred(features, labels, means)
    assert torch.allclose(centred[labels == 1].mean(0), torch.zeros(8), atol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED.is_dir(), reason="the shipped demo model is not in this checkout")
def test_probe_reads_colour_from_the_shipped_vision_tower(probe, capsys):

    model = load_model(SHIPPED, device="cpu")
    train = probe.single_object_frames(model, "train", 40, start_seed=0)
    test = probe.single_object_frames(model, "test", 20, start_seed=500_000)
    assert len(train["shape"]) > 100 and test["held_out"].any() and (~test["held_out"]).any()
    assert not train["held_out"].any()                  # training videos never hold a held-out pair
    for shape, colour, held in zip(test["shape"], test["colour"], test["held_out"]):
        assert bool(held) == ((list(COLOURS)[colour], SHAPES[shape]) in HELD_OUT_PAIRS)
    assert train["cls"].shape == (len(train["shape"]), model.vision.width)
    _, predicted = probe.linear_probe(train["cls"], train["colour"], test["cls"], classes=len(COLOURS))
    assert (predicted == test["colour"]).float().mean() > 0.9   # colour is what the demo ViT encodes best
    probe.main(["--model", str(SHIPPED), "--num-train", "20", "--num-test", "10"])
    table = capsys.readouterr().out
    assert "| CLS, colour-centred | shape |" in table and "| CLS, other colours | shape |" in table
    assert table.count("\n| ") == 12       # 6 rows, 3 colour-centred, 3 on colours the probe never saw
    train_acc, right, held = probe.shape_of_other_colours(train, test, ("cls",), {0, 1})   # red and orange only
    other = ~torch.isin(test["colour"], torch.tensor([0, 1]))
    assert len(right) == int(other.sum()) and held.tolist() == test["held_out"][other].tolist()
    assert train_acc > 0.5
