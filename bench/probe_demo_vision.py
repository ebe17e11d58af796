"""Can the demo model's frozen vision tower tell an object's shape on a colour-shape pair it never saw in training?

Frames with exactly one fully visible object (not mid colour change) are encoded by the saved model's vision tower;
a linear probe (logistic regression) learns the object's shape, or its colour, from training-split frames and is
scored on test-split frames, separately for objects of a pair seen in training and for the held-out pairs
(`HELD_OUT_PAIRS`, never in a training video). Features: the CLS token (the T-token) and the mean patch token.

In training a held-out pair's colour never comes with its shape, so a probe may read the colour and rule that shape
out. The "colour-centred" rows remove that shortcut: each frame's feature has the mean training feature of its
object's colour subtracted first. What such a probe still cannot read from held-out pairs, the features do not hold
in a form that carries over to new colour-shape combinations; the LLM and head above them cannot recover it either.

The "other colours" rows take the shortcut away entirely: the probe learns shape only from frames of the colours
that no held-out pair uses (each comes with every shape in training) and is scored on the test frames of the other
colours. Their seen pairs show how far shape carries over to a colour the probe never saw; their held-out pairs,
how far it carries over to a colour-shape pair the vision tower never saw.

    python bench/probe_demo_vision.py --model checkpoints/videoexpert-demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import logging

import numpy as np
import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # demo/ lives beside the package

from videoexpert.cli import setup_logging
from demo.world import COLOURS, HELD_OUT_PAIRS, SHAPES, generate_videos
from videoexpert.model import VideoExpert
from videoexpert import load_model

logger = logging.getLogger("probe_demo_vision")
FEATURE_SETS = (("CLS", ("cls",)), ("mean patch", ("patch",)), ("CLS + mean patch", ("cls", "patch")))


def single_object_frames(model: VideoExpert, split: str, num_videos: int, start_seed: int,
                         frames_per_video: int = 20) -> dict[str, torch.Tensor]:
    """Features (CLS, mean patch) and labels of every sampled frame that shows one object, fully and in one colour."""
    cls_feats, patch_feats, shapes, colours, held_out = [], [], [], [], []
    for video in tqdm(generate_videos(split, num_videos, start_seed=start_seed), desc=f"encoding {split} frames",
                      unit="video"):
        times = video.sample_times(frames_per_video)
        tracks = video.tracks(times)
        kept = []
        for j, t in enumerate(times):
            shown = [i for i, track in enumerate(tracks) if track.alpha[j] > 0.99]
            hidden = all(track.alpha[j] < 0.01 for i, track in enumerate(tracks) if i not in shown)
            if len(shown) == 1 and hidden:
                colour = video.colour_at(shown[0], float(t))
                if np.allclose(tracks[shown[0]].rgb[j], COLOURS[colour], atol=1):
                    kept.append((j, video.objects[shown[0]].shape, colour))
        if not kept:
            continue
        frames = video.render(times[[j for j, _, _ in kept]], model.config.vision.image_size)
        cls_tokens, patch_tokens = model.encode_frames(torch.from_numpy(frames).permute(0, 3, 1, 2))
        cls_feats.append(cls_tokens.float().cpu())
        patch_feats.append(patch_tokens.float().mean(1).cpu())
        for _, shape, colour in kept:
            shapes.append(SHAPES.index(shape))
            colours.append(list(COLOURS).index(colour))
            held_out.append((colour, shape) in HELD_OUT_PAIRS)
    return {"cls": torch.cat(cls_feats), "patch": torch.cat(patch_feats), "shape": torch.tensor(shapes),
            "colour": torch.tensor(colours), "held_out": torch.tensor(held_out)}


def linear_probe(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, classes: int,
                 steps: int = 500, seed: int = 0) -> tuple[float, torch.Tensor]:
    """Multinomial logistic regression on standardised features: train accuracy and test predictions."""
    torch.manual_seed(seed)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    probe = torch.nn.Linear(x_train.shape[1], classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(probe(x_train), y_train).backward()
        optimizer.step()
    with torch.no_grad():
        return float((probe(x_train).argmax(1) == y_train).float().mean()), probe(x_test).argmax(1)


def colour_centred(features: torch.Tensor, colours: torch.Tensor, means: dict[int, torch.Tensor]) -> torch.Tensor:
    """Each feature minus its colour's mean training feature (the overall mean for a colour no training frame had)."""
    overall = torch.stack(list(means.values())).mean(0)
    return features - torch.stack([means.get(c, overall) for c in colours.tolist()])


def shape_of_other_colours(train: dict[str, torch.Tensor], test: dict[str, torch.Tensor], keys: tuple[str, ...],
                           probe_colours: set[int]) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Shape probe trained on `probe_colours` frames only: train accuracy, whether each test frame of another
    colour was read right, and whether that frame shows a held-out pair."""
    fit = torch.tensor([c in probe_colours for c in train["colour"].tolist()])
    other = torch.tensor([c not in probe_colours for c in test["colour"].tolist()])
    x_train = torch.cat([train[k] for k in keys], 1)[fit]
    x_test = torch.cat([test[k] for k in keys], 1)[other]
    train_acc, predicted = linear_probe(x_train, train["shape"][fit], x_test, len(SHAPES))
    return train_acc, predicted == test["shape"][other], test["held_out"][other]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="checkpoints/videoexpert-demo", help="saved demo model directory")
    parser.add_argument("--num-train", type=int, default=300, help="training-split videos the probes learn from")
    parser.add_argument("--num-test", type=int, default=120, help="test-split videos (the demo's held-out split)")
    args = parser.parse_args(argv)
    setup_logging()
    torch.manual_seed(0)
    model = load_model(args.model, device="cpu")
    train = single_object_frames(model, "train", args.num_train, start_seed=0)
    test = single_object_frames(model, "test", args.num_test, start_seed=500_000)
    held = test["held_out"]
    logger.info("%d training frames, %d test frames (%d of a held-out pair)", len(train["shape"]),
                len(test["shape"]), int(held.sum()))
    rows = ["| features | probe for | train | test, seen pairs | test, held-out pairs |", "|---|---|---:|---:|---:|"]
    for centred in (False, True):
        for name, keys in FEATURE_SETS:
            x_train = torch.cat([train[k] for k in keys], 1)
            x_test = torch.cat([test[k] for k in keys], 1)
            if centred:
                means = {c: x_train[train["colour"] == c].mean(0) for c in train["colour"].unique().tolist()}
                x_train = colour_centred(x_train, train["colour"], means)
                x_test = colour_centred(x_test, test["colour"], means)
            targets = (("shape", len(SHAPES)),) if centred else (("shape", len(SHAPES)), ("colour", len(COLOURS)))
            for target, classes in targets:
                train_acc, predicted = linear_probe(x_train, train[target], x_test, classes)
                right = predicted == test[target]
                label = f"{name}, colour-centred" if centred else name
                rows.append(f"| {label} | {target} | {train_acc:.3f} | {right[~held].float().mean():.3f} | "
                            f"{right[held].float().mean():.3f} |")
    names = list(COLOURS)
    held_out_colours = {colour for colour, _ in HELD_OUT_PAIRS}
    probe_colours = {names.index(c) for c in names if c not in held_out_colours}
    for name, keys in FEATURE_SETS:
        train_acc, right, held = shape_of_other_colours(train, test, keys, probe_colours)
        rows.append(f"| {name}, other colours | shape | {train_acc:.3f} | {right[~held].float().mean():.3f} | "
                    f"{right[held].float().mean():.3f} |")
    logger.info("other colours: the shape probe learns from %s frames only",
                ", ".join(names[c] for c in sorted(probe_colours)))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
