"""A tiny VideoExpert memorises 4 generated clips: proves the loss, the head and the [LOC] wiring end to end."""

import pytest
import torch

from tests.media import event_frames, write_video
from videoexpert import VideoExpert
from videoexpert.data import collate, make_example
from videoexpert.spans import temporal_iou

CLIPS = [  # colour, frames visible (of 100 at 10 fps), query
    ((230, 40, 40), (20, 50), "the red square is visible"),
    ((40, 200, 60), (60, 90), "the green square is visible"),
    ((40, 60, 230), (5, 35), "the blue square is visible"),
    ((230, 220, 40), (40, 80), "the yellow square is visible"),
]


def test_tiny_model_overfits_grounding(tmp_path):
    torch.manual_seed(0)
    model = VideoExpert.from_config("tiny", seed=0)
    examples, truth = [], []
    for k, (colour, window, query) in enumerate(CLIPS):
        path = write_video(tmp_path / f"clip{k}.mp4", event_frames(100, window, colour), fps=10)
        features = model.encode_video(path)
        seconds = (window[0] / 10, window[1] / 10)
        norm = [(seconds[0] / features.duration, seconds[1] / features.duration)]
        examples.append(make_example(model, features.cls_tokens, features.patch_tokens,
                                     model.templates.question("grounding", query),
                                     model.templates.grounding_answer(), norm))
        truth.append((features, query, seconds))
    batch = collate(examples, model.tokenizer.pad_token_id)

    params = model.trainable_parameters(stage=2) + [p.requires_grad_() for p in model.projector.parameters()]
    optimizer = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.0)
    model.train()
    first = None
    for step in range(300):
        out = model(**batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        first = first if first is not None else {k: v.item() for k, v in out.losses.items()}
    last = {k: v.item() for k, v in out.losses.items()}
    model.eval()
    assert last["indicator_loss"] < first["indicator_loss"] and last["giou_loss"] < first["giou_loss"]

    ious = []
    for features, query, seconds in truth:
        pred = model.predict(features, "grounding", query)
        top = pred.segments[0]
        ious.append(temporal_iou((top.start, top.end), seconds))
    assert min(ious) > 0.8, f"grounding IoU per clip after overfitting: {ious}"
