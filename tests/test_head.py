"""Temporal head decoding and the grounding losses on hand-built inputs with known answers."""

import math

import pytest
import torch

from videoexpert.config import HeadConfig, LossConfig
from videoexpert.head import HeadOutput, TemporalHead, decode_spans, temporal_nms
from videoexpert.loss import foreground_targets, grounding_losses, text_loss
from videoexpert.spans import frame_times, pairwise_iou


def test_known_foreground_and_offsets_give_the_known_segment():
    n = 10
    t = frame_times(n)
    fg = torch.full((n,), 0.05)
    fg[6] = 0.9                                              # frame 6: t = 0.7
    offsets = torch.zeros(n, 2)
    offsets[6] = torch.tensor([0.3, 0.1])                    # proposes [0.4, 0.8]
    spans = torch.stack([t - offsets[:, 0], t + offsets[:, 1]], dim=-1)
    decoded = decode_spans(fg, spans, threshold=0.5, max_segments=3)
    assert decoded.spans[0] == pytest.approx((0.4, 0.8))
    assert decoded.scores[0] == pytest.approx(0.9)
    seconds = [(s * 30.0, e * 30.0) for s, e in decoded.spans]  # a 30 s video
    assert seconds[0] == pytest.approx((12.0, 24.0))
    assert decoded.saliency[6] == pytest.approx(0.9) and len(decoded.saliency) == n


def test_spans_are_clamped_to_the_video():
    fg = torch.tensor([0.9, 0.1])
    spans = torch.tensor([[-0.2, 0.3], [0.5, 1.4]])
    decoded = decode_spans(fg, spans, threshold=1.0, max_segments=2)
    assert decoded.spans == [pytest.approx((0.0, 0.3)), pytest.approx((0.5, 1.0))]


def test_nms_keeps_best_and_drops_overlaps():
    spans = torch.tensor([[0.0, 0.5], [0.05, 0.5], [0.6, 0.9], [0.0, 0.45]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    keep = temporal_nms(spans, scores, threshold=0.5, max_keep=5).tolist()
    assert keep == [3, 2]                                     # 0 and 1 overlap 3 by IoU > 0.5
    assert temporal_nms(spans, scores, threshold=1.0, max_keep=2).tolist() == [3, 0]
    assert pairwise_iou(spans[:1], spans[2:3]).item() == 0.0


def test_head_shapes_and_ranges():
    torch.manual_seed(0)
    head = TemporalHead(16, HeadConfig(hidden_size=8))
    out = head(torch.randn(3, 20, 16), torch.randn(3, 16))
    assert out.foreground.shape == (3, 20) and out.offsets.shape == (3, 20, 2) and out.spans.shape == (3, 20, 2)
    assert ((out.foreground > 0) & (out.foreground < 1)).all()
    assert (out.spans[..., 0] <= frame_times(20)).all() and (out.spans[..., 1] >= frame_times(20)).all()
    names = {k for k in head.state_dict()}
    assert {"loc_mlp.0.weight", "loc_mlp.2.weight", "indicator.layers.2.weight", "boundary.layers.2.bias"} <= names


def test_foreground_mask_is_inclusive_and_never_empty():
    fg, _ = foreground_targets(torch.tensor([[0.2, 0.4], [0.51, 0.52]]), 10)   # t = 0.1, 0.2, ..., 1.0
    assert fg[0].nonzero().flatten().tolist() == [1, 2, 3]
    assert fg[1].nonzero().flatten().tolist() in ([4], [5])                # no t_i inside: nearest frame


def test_grounding_losses_hand_values():
    n = 4                                                     # t = 0.25, 0.5, 0.75, 1.0; window [0.4, 0.8]
    fg_prob = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    spans = torch.tensor([[[0.0, 0.5], [0.4, 0.8], [0.5, 0.8], [0.9, 1.0]]])
    out = HeadOutput(fg_prob, torch.zeros(1, n, 2), spans)
    losses = grounding_losses(out, torch.tensor([[0.4, 0.8]]), LossConfig())
    bce_each = -math.log(0.5)
    assert losses["indicator_loss"].item() == pytest.approx(bce_each * (1 + 1 + 0.1 + 0.1) / 4)
    # foreground frames 1 and 2: L1 errors (0, 0) and (0.1, 0) -> smooth-L1 0.5 * 0.1^2 = 0.005, over 2 frames
    assert losses["span_loss"].item() == pytest.approx(0.005 / 2)
    assert losses["giou_loss"].item() == pytest.approx((0 + (1 - 0.75)) / 2)


def test_indicator_loss_from_logits_equals_the_probability_form_and_runs_under_autocast():
    torch.manual_seed(0)
    head = TemporalHead(32, HeadConfig(hidden_size=16))
    t_hidden, loc_hidden = torch.randn(2, 10, 32), torch.randn(2, 32)
    windows = torch.tensor([[0.2, 0.5], [0.6, 0.9]])
    out = head(t_hidden, loc_hidden)
    from_logits = grounding_losses(out, windows, LossConfig())["indicator_loss"]
    probs_only = HeadOutput(out.foreground, out.offsets, out.spans)
    torch.testing.assert_close(from_logits, grounding_losses(probs_only, windows, LossConfig())["indicator_loss"])
    with torch.autocast("cpu", dtype=torch.bfloat16):  # CUDA autocast refuses BCE on probabilities; logits are fine
        under_autocast = grounding_losses(head(t_hidden, loc_hidden), windows, LossConfig())["indicator_loss"]
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, from_logits, atol=0.02, rtol=0.02)


def test_text_loss_ignores_masked_tokens():
    logits = torch.zeros(1, 3, 5)
    logits[0, 0, 2] = 10.0
    labels = torch.tensor([[-100, 2, -100]])
    assert text_loss(logits, labels).item() == pytest.approx(
        -torch.log_softmax(logits[0, 0], -1)[2].item(), rel=1e-5)


def test_several_windows_per_loc():
    nan = float("nan")
    windows = torch.tensor([[[0.1, 0.2], [0.6, 0.7]], [[0.35, 0.55], [nan, nan]]])   # t = 0.1 ... 1.0
    fg, target = foreground_targets(windows, 10)
    assert fg[0].nonzero().flatten().tolist() == [0, 1, 5, 6]
    assert fg[1].nonzero().flatten().tolist() == [3, 4]
    torch.testing.assert_close(target[0, 1], torch.tensor([0.1, 0.2]))
    torch.testing.assert_close(target[0, 6], torch.tensor([0.6, 0.7]))
    torch.testing.assert_close(target[1, 4], torch.tensor([0.35, 0.55]))
